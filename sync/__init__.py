"""The replication core: revision trees, stores, and the CouchDB replicator.

No web server, no UI, no knowledge of records: ``server/`` and
``field_client/`` build on this package, never the other way round.
"""
