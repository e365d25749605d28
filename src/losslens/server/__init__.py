"""``losslens server``: the team server's ingest API over a PostgreSQL store (docs/team.md).

Needs the ``team`` extra (psycopg, starlette, uvicorn)."""
