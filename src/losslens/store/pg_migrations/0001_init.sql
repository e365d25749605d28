-- losslens PostgreSQL store, schema 1 (docs/team.md). Applied by `losslens db upgrade`,
-- in one transaction, and recorded in schema_migrations. Never edit a shipped file: add 0002_….sql.

CREATE TABLE projects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  float8 NOT NULL
);

CREATE TABLE runs (
    id          text PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        text NOT NULL,
    status      text NOT NULL
                CHECK (status IN ('running','finished','crashed','killed','failed')),
    start_time  float8 NOT NULL,
    end_time    float8,
    heartbeat   float8,
    host        text,
    pid         bigint,
    command     text,
    git_commit  text,
    -- json (not jsonb): the text is kept as written, key order included; the store's JSON
    -- is strict, non-finite floats are the strings "NaN", "Infinity", "-Infinity".
    config      json NOT NULL DEFAULT '{}',
    summary     json NOT NULL DEFAULT '{}',
    source      text,
    source_id   text UNIQUE,
    output_dir  text,
    exit_code   integer,
    -- insertion order, the tie-break of runs started at the same second
    seq         bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX runs_project ON runs (project_id, start_time);

-- n_points and step_max are kept by every writer in the same statement as the points:
-- they make a run's change stamp (stored analyses) cheap to compute.
CREATE TABLE metric_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         text NOT NULL,
    original    text,
    kind        text NOT NULL DEFAULT 'metric' CHECK (kind IN ('metric','system')),
    n_points    bigint NOT NULL DEFAULT 0,
    step_max    bigint,
    UNIQUE (run_id, key, kind)
);

-- One row per (run, key, step): writing the same point twice stores it once, which is what
-- makes retried batches safe. float8 holds NaN, +Infinity and -Infinity natively.
-- Partitioned by run id: the same column a distributed PostgreSQL (Citus) shards on.
-- No foreign keys here on purpose: a per-row check makes inserts about 4x slower; writers
-- create the run and key first, and deleting a run deletes its points explicitly.
CREATE TABLE points (
    run_id      text NOT NULL,
    key_id      bigint NOT NULL,
    step        bigint NOT NULL,
    wall_time   float8,
    value       float8,
    PRIMARY KEY (run_id, key_id, step)
) PARTITION BY HASH (run_id);
CREATE TABLE points_p00 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE points_p01 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE points_p02 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE points_p03 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE points_p04 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE points_p05 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE points_p06 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE points_p07 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE points_p08 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE points_p09 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE points_p10 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE points_p11 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE points_p12 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE points_p13 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE points_p14 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE points_p15 PARTITION OF points FOR VALUES WITH (MODULUS 16, REMAINDER 15);

CREATE TABLE findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    rule_id     text NOT NULL,
    kind        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info','warning','error')),
    step_start  bigint,
    step_end    bigint,
    onset_step  bigint,
    payload     json NOT NULL,
    created_at  float8 NOT NULL
);
CREATE INDEX findings_run ON findings (run_id);

CREATE TABLE analyses (
    run_id      text PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    stamp       text NOT NULL,
    verdict     text NOT NULL CHECK (verdict IN ('healthy','needs_attention','failed')),
    n_findings  integer NOT NULL,
    report      json NOT NULL,
    created_at  float8 NOT NULL
);
CREATE INDEX analyses_verdict ON analyses (verdict);

CREATE VIEW metrics AS
    SELECT p.run_id, k.key, p.step, p.wall_time, p.value
    FROM points p JOIN metric_keys k ON k.id = p.key_id WHERE k.kind = 'metric';
CREATE VIEW system_metrics AS
    SELECT p.run_id, k.key, p.step, p.wall_time, p.value
    FROM points p JOIN metric_keys k ON k.id = p.key_id WHERE k.kind = 'system';
