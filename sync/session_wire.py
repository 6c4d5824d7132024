"""The wire format of BeatSync's sync session (``POST /{db}/_beatsync/sync``).

One request does a whole two-way sync in the common case. The request is one
JSON object (gzip allowed)::

    {"session": 1,
     "docs": [every leaf of each doc changed since the push checkpoint,
              with "_revisions" and inline attachments: _bulk_docs?new_edits=false],
     "since": the pull checkpoint (a remote seq, 0 at first),
     "budget": bytes of answer the client wants at most (about; a document
               is never split, so one line may pass it)}

The answer is NDJSON (one JSON object a line, gzip when accepted, flushed
every few KB so a cut loses only the lines after the last flush):

    {"push": {"written": N, "errors": [per-doc errors, as new_edits=false gives]}}
    {"seq": S, "docs": [the leaves of one changed doc the device lacks]}   ...
    {"checkpoint": S}                                                      ...
    {"last_seq": S, "more": true|false}

Every ``seq`` and ``checkpoint`` is a resume point: all the changes up to it
have been sent on lines before it. ``more`` says the budget ended the answer
before the feed did; the client asks again from ``last_seq``. A cut answer
without its last line keeps every complete line that arrived: the client
writes those docs and resumes from the last ``seq`` it got.
"""

from __future__ import annotations

import zlib
from typing import Final

__all__ = [
    "DEFAULT_BUDGET",
    "FEATURE",
    "MAX_BUDGET",
    "MIN_BUDGET",
    "SESSION_PATH",
    "VERSION",
    "LineCompressor",
]

SESSION_PATH: Final = "_beatsync/sync"
# The key the gateway's welcome answer (GET /) carries, with VERSION, when it offers sessions.
FEATURE: Final = "beatsync_session"
VERSION: Final = 1
# Below a few KB one document may not fit; above 64 MiB an answer is no longer a page.
MIN_BUDGET: Final = 4 * 1024
MAX_BUDGET: Final = 64 * 1024 * 1024
DEFAULT_BUDGET: Final = 1024 * 1024
# Uncompressed bytes between flushes: a flush costs ~5 bytes of framing, so a
# flush a line would add ~5 % to small records; every 4 KB adds well under 1 %.
_FLUSH_EVERY: Final = 4 * 1024


class LineCompressor:
    """NDJSON lines gzipped as one stream, with a sync flush every few KB of input.

    ``add`` returns the bytes to send now (often none: zlib keeps them until a
    flush); ``finish`` the rest and the gzip trailer. ``sent`` counts output."""

    def __init__(self, *, gzip: bool) -> None:
        self._zlib = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
        self._pending = 0
        self.sent = 0

    def add(self, line: bytes, *, flush: bool = False) -> bytes:
        data = line + b"\n"
        if self._zlib is None:
            out = data
        else:
            out = self._zlib.compress(data)
            self._pending += len(data)
            if flush or self._pending >= _FLUSH_EVERY:
                out += self._zlib.flush(zlib.Z_SYNC_FLUSH)
                self._pending = 0
        self.sent += len(out)
        return out

    @property
    def whole(self) -> bool:
        """Every line added so far is in the bytes returned (none wait in zlib
        for a flush): a cut after them loses none of those lines."""
        return self._pending == 0

    def finish(self) -> bytes:
        out = b"" if self._zlib is None else self._zlib.flush(zlib.Z_FINISH)
        self.sent += len(out)
        return out
