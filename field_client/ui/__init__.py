"""``beatsync ui``: the officer's app in a browser, served by the device itself.

A thin web layer over the same library the CLI uses (:class:`FieldReplica`,
:mod:`field_client.forms`, the sync), on the page frame the server's faces
share (:mod:`schemas.web`). It listens on 127.0.0.1 only and answers only a
browser that came through the per-launch secret URL (:mod:`.guard`); the
data key is held in memory while unlocked (:mod:`.session`).
"""

# Here, not in .session, so that `beatsync --help` can show it without
# importing the app (aiohttp, the replica).
DEFAULT_IDLE_MINUTES = 15
