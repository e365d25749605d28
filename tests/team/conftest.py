"""The team-store tests use the PostgreSQL fixtures of tests/conftest.py (``pg_cluster``,
``pg_url``, ``pg_store_url``): one throwaway cluster per session, shared with tests/store,
which runs its engine-neutral tests on both engines (tests/pgcluster.py)."""
