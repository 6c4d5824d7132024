"""The CouchDB replication protocol between any two :class:`~sync.database.Database` stores.

Modules, one job each (``couch_replicator`` is the model): ``replication_id``
names a replication, ``checkpointer`` reads and writes its ``_local/``
checkpoints, ``changes_reader`` reads the source's changes, ``batches`` finds,
fetches and writes the missing revisions, ``backoff`` decides retries,
``state`` holds what a run knows, ``replicator`` runs it.
"""

from sync.replication.backoff import RetryPolicy, is_transient
from sync.replication.replicator import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHECKPOINT_INTERVAL,
    replicate,
    sync,
)
from sync.replication.state import Phase, Progress, ReplicationError, ReplicationResult, Side

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "Phase",
    "Progress",
    "ReplicationError",
    "ReplicationResult",
    "RetryPolicy",
    "Side",
    "is_transient",
    "replicate",
    "sync",
]
