"""Conflicts: merged where the domain allows, queued for the office where it does not.

Rank 3 (``tests/test_layering.py``): above ``state`` and ``policy``, below the
gateway, which runs the merge, and the office web app, which calls the desk.

The rules themselves are pure domain code in :mod:`schemas.merge`; this group
runs them on the station databases and keeps the office's queue.

Merging (:mod:`server.conflicts.runner`)
----------------------------------------
``MergeRunner(state, stores)`` follows every station database's changes
(``style=all_docs``; on CouchDB its ``_changes``, on the embedded store its
feed) from a checkpoint in ``_local/beatsync-merge``. A document with two or
more live leaves is merged by :func:`schemas.merge.merge_leaves`:

* mergeable: ONE ``_bulk_docs?new_edits=false`` writes the merged revision
  on the winning leaf and a tombstone on every losing leaf. Rev ids are
  :func:`sync.revid.new_rev` of (parent, body), so two gateways, or a gateway
  and a hub, merging the same leaves write the same revisions and converge.
  The writes are audited as officer :data:`MERGE_AUTHOR`; the losing bodies
  stay in the audit log, where they were kept when they were accepted.
* not mergeable (a complainant's name, an address, a verification outcome,
  any appointment double booking...): the document goes to the queue.

``await runner.merge_station(station_id)`` does one pass and returns a
:class:`MergeReport`; the gateway runs ``runner.run(stop)`` in the background.

Listeners (:data:`server.conflicts.runner.QueueListener`, the gateway's
``MERGE_LISTENERS``) are told of each entry the runner queues (status
``open``) and each the desk resolves (status ``resolved``, with the body the
resolution wrote), once, after the entry is stored: the portal tells both
citizens of a double booking when it is queued and when it is decided.

The office's API (:mod:`server.conflicts.desk`)
-----------------------------------------------
``desk = app[CONFLICTS]`` (a :class:`ConflictDesk`; the gateway's app key
``server.gateway.keys.CONFLICTS``). Every call takes the caller's
:class:`server.state.models.Principal`: the central office sees every
station, a station officer (SHO) only their own; anyone else (beat officers,
admins, who read no records) gets ``Forbidden`` (403). Errors are the classes
of :mod:`sync.errors` (their ``status`` and ``error_name`` are the HTTP answer).

``await desk.list(principal, station_id=None, status="open", limit=50, after=None)``
    -> :class:`ConflictPage` (``items``: :class:`QueuedConflict`, oldest
    queued first; ``next_after``: pass it as ``after`` for the next page, or
    ``None`` at the end). ``station_id`` filters; an SHO gets only their own.
``await desk.get(principal, station_id, doc_id)``
    -> :class:`ConflictView`: the queue entry, every live leaf side by side
    (:class:`LeafView`: body, rev, winner or not, who sent it, on which
    device, when, signed by whom, from the audit log; who edited it and
    when by the device's clock, from the version itself), the fields that differ
    (:class:`FieldDiff`: dotted path, value per rev, ``mergeable``), and the
    ``proposal``: the body the automatic merge gives for every field it can.
    ``NotFound`` when the document is not queued.
``await desk.resolve(principal, station_id, doc_id, reason=..., choose=rev, fields={path: rev})``
    -> :class:`Resolution` (the new rev, the deleted leaves). ``reason`` is
    mandatory (``BadRequest`` when blank). ``choose`` takes every differing
    field from that leaf; ``fields`` picks per field (dotted paths from
    ``FieldDiff.path``) and wins over ``choose``; fields left out take the
    proposal, and an unmergeable field left out is ``BadRequest``. Logs
    (``action_log``) always keep every leaf's entries, plus one entry
    ``conflict_resolved`` by the officer with the reason, where the record
    type has a log. ``expect_leaves`` (the revs the officer saw) gives
    ``Conflict`` (409) when the document changed since. The resolution is an
    ordinary revision by the officer: written through
    :func:`server.policy.writes.write_docs` (schema, station, transitions,
    audit), on the winning leaf, deleting the losers, in one ``_bulk_docs``;
    devices pull it like any edit. It goes on the leaf whose attachments and
    fixed fields (``created_by``, ``created_at``...) were chosen: no
    revision may change those, so they come with their branch.
``await desk.counts(station_id=None)``
    -> :class:`ConflictCounts`: ``open`` (queued, unresolved, from the
    queue's storage) and this process's ``merged``, ``queued``, ``resolved``
    totals (Prometheus counters; ``desk.stats`` is the live
    :class:`MergeStats` object shared with the runner).

Storage: :class:`server.state.conflict_queue.ConflictQueue`, part of the
gateway state on both backends (SQLite table ``conflicts``; CouchDB
database ``beatsync-conflicts``).
"""
