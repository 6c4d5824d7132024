"""The embedded store: one CouchDB database in one SQLite file (aiosqlite).

``store`` is the facade (:class:`SQLiteDatabase`) over the parts that share
one ``core`` (connections, write lock, transactions, update_seq): ``reads``,
``writes``, ``local_docs``, ``feed``. ``schema`` is the file layout and its
migrations; ``edits`` checks the documents of a write; ``query_args`` checks
``_changes``/``_all_docs`` arguments.
"""

from sync.sqlite.schema import SCHEMA_VERSION
from sync.sqlite.store import SQLiteDatabase

__all__ = ["SCHEMA_VERSION", "SQLiteDatabase"]
