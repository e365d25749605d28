"""The store's schema, as ordered migrations keyed on ``PRAGMA user_version``.

Each entry of ``MIGRATIONS`` moves the schema from version ``i`` to ``i + 1``. Never edit
a migration that has shipped: append a new one. ``docs/storage.md`` documents the result.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    PRAGMA application_id = 1280070478;
    CREATE TABLE projects (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  REAL NOT NULL
    );
    CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL
                    CHECK (status IN ('running','finished','crashed','killed','failed')),
        start_time  REAL NOT NULL,
        end_time    REAL,
        heartbeat   REAL,
        host        TEXT,
        pid         INTEGER,
        command     TEXT,
        git_commit  TEXT,
        config      TEXT NOT NULL DEFAULT '{}',
        summary     TEXT NOT NULL DEFAULT '{}',
        source      TEXT,
        source_id   TEXT UNIQUE,
        output_dir  TEXT,
        exit_code   INTEGER
    );
    CREATE INDEX runs_project ON runs(project_id, start_time);
    CREATE TABLE metric_keys (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key         TEXT NOT NULL,
        original    TEXT,
        kind        TEXT NOT NULL DEFAULT 'metric' CHECK (kind IN ('metric','system')),
        UNIQUE (run_id, key, kind)
    );
    -- value has no declared type on purpose: a REAL column would turn -0.0 into 0.0 and
    -- round integers above 2**53; untyped, floats stay 8-byte REALs and ints stay exact.
    CREATE TABLE points (
        key_id      INTEGER NOT NULL REFERENCES metric_keys(id) ON DELETE CASCADE,
        step        INTEGER NOT NULL,
        wall_time   REAL,
        value
    );
    CREATE INDEX points_key_step ON points(key_id, step);
    -- One row per block of 256 consecutive points of a key (logging order), kept by the
    -- writers; only a key's last row may hold fewer. Summary columns are over finite
    -- values (NULL when the block has none); sub holds 16 summaries of 16 points each
    -- (docs/storage.md). A cache for drawing: every point is still in points.
    CREATE TABLE rollups (
        key_id      INTEGER NOT NULL REFERENCES metric_keys(id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        n           INTEGER NOT NULL,
        n_finite    INTEGER NOT NULL,
        step_min    INTEGER NOT NULL,
        step_max    INTEGER NOT NULL,
        v_min       REAL,
        step_at_min INTEGER,
        v_max       REAL,
        step_at_max INTEGER,
        v_sum       REAL,
        first_bad_step INTEGER,
        rowid_last  INTEGER NOT NULL,
        sub         BLOB NOT NULL,
        PRIMARY KEY (key_id, seq)
    );
    CREATE TABLE findings (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        rule_id     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        severity    TEXT NOT NULL CHECK (severity IN ('info','warning','error')),
        step_start  INTEGER,
        step_end    INTEGER,
        onset_step  INTEGER,
        payload     TEXT NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE INDEX findings_run ON findings(run_id);
    -- value IS NULL means NaN: SQLite cannot hold a NaN REAL, so NaN is written as NULL
    -- and read back as NaN. +/-Inf are stored as such.
    CREATE VIEW metrics AS
        SELECT k.run_id AS run_id, k.key AS key, p.step AS step, p.wall_time AS wall_time,
               p.value AS value
        FROM points p JOIN metric_keys k ON k.id = p.key_id WHERE k.kind = 'metric';
    CREATE VIEW system_metrics AS
        SELECT k.run_id AS run_id, k.key AS key, p.step AS step, p.wall_time AS wall_time,
               p.value AS value
        FROM points p JOIN metric_keys k ON k.id = p.key_id WHERE k.kind = 'system';
    """,
    # 1 -> 2: the last analysis of each run, and what it saw (losslens.store.findings).
    """
    CREATE TABLE analyses (
        run_id      TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        stamp       TEXT NOT NULL,
        verdict     TEXT NOT NULL CHECK (verdict IN ('healthy','needs_attention','failed')),
        n_findings  INTEGER NOT NULL,
        report      TEXT NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE INDEX analyses_verdict ON analyses(verdict);
    -- the smallest value of a key in one index seek (the runs table's best loss)
    CREATE INDEX rollups_min ON rollups(key_id, v_min);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

#: ``PRAGMA application_id`` of a losslens store: the bytes "LLSN". Tells our stores apart
#: from other SQLite files (an MLflow or trackio database passed as ``--store`` by mistake).
APPLICATION_ID = 0x4C4C534E
