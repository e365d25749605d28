"""The run store: the embedded SQLite store, and the protocol both engines implement."""

from losslens.store.protocol import StoreProtocol
from losslens.store.store import Store, effective_status, new_run_id

__all__ = ["Store", "StoreProtocol", "effective_status", "new_run_id"]
