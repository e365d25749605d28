"""The embedded run store (SQLite, WAL)."""

from losslens.store.store import Store, effective_status, new_run_id

__all__ = ["Store", "effective_status", "new_run_id"]
