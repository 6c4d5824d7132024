"""``beatsync-server audit verify``: walk the audit log's hash chains (both backends)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from server.state.audit_chain import (
    ChainedEntry,
    ChainReport,
    head_setting,
    key_setting,
    verify_chains,
)
from server.state.interface import GatewayState
from sync.signing import public_key_from_b64

__all__ = ["verify_audit"]

# How often (in entries read) the progress callback hears from a long walk.
PROGRESS_EVERY = 10_000


async def verify_audit(
    state: GatewayState, on_progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Read every audit entry and check every chain against the gateways' keys."""
    entries: list[ChainedEntry] = []
    async for entry in state.chain_entries():
        entries.append(entry)
        if on_progress is not None and len(entries) % PROGRESS_EVERY == 0:
            on_progress(len(entries))
    keys: dict[str, Ed25519PublicKey] = {}
    fingerprints = {e.link.chain.split(".", 1)[0] for e in entries if e.link is not None}
    for fingerprint in sorted(fingerprints):
        published = await state.get_setting(key_setting(fingerprint))
        # An unusable key verifies nothing: its chain is reported forged.
        if published is not None:
            with contextlib.suppress(ValueError):
                keys[fingerprint] = public_key_from_b64(published)
    heads: dict[str, str] = {}
    for chain in sorted({e.link.chain for e in entries if e.link is not None}):
        sealed = await state.get_setting(head_setting(chain))
        if sealed is not None:
            heads[chain] = sealed
    return verify_chains(entries, keys, heads)
