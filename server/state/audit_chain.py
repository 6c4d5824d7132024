"""The audit log as a hash chain the gateway signs: tampering shows.

Every entry names the hash of the entry before it in its chain (``prev``) and
carries its own ``hash`` (SHA-256 over its fields, ``prev`` and the chain id,
as canonical JSON) and the gateway's Ed25519 signature over that hash.
:func:`verify_chains` walks every chain and reports what breaks it:

* an entry whose content no longer matches its hash (edited);
* a hash whose signature does not verify with the gateway's key (forged:
  whoever can write the log cannot sign for the gateway);
* a ``prev`` that names no entry of the chain (an entry was deleted);
* two entries after the same one, or an entry with conflicting revisions in
  CouchDB (a fork);
* an entry without a chain link once the chain has begun.

A chain is one gateway's: the embedded state keeps one per gateway key across
restarts; over CouchDB each gateway process starts its own (several write the
one audit database at once). Deleting the newest entries of a chain leaves no
gap behind them: the embedded state therefore also keeps the chain's head,
signed, written in the same transaction as the entries, and ``verify``
reports a chain that ends before it. Over CouchDB (no transaction across
documents) ``verify`` prints each chain's length and head so an operator can
compare with the figures of an earlier run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from sync.files import FILE_MODE, private_dir
from sync.revid import canonical_json

__all__ = [
    "CHAINED_FIELDS",
    "KEY_FILE",
    "AuditSigner",
    "ChainHead",
    "ChainLink",
    "ChainReport",
    "ChainedEntry",
    "LazyChain",
    "entry_hash",
    "head_setting",
    "key_setting",
    "public_key_b64",
    "verify_chains",
]

# What an entry's hash covers (besides prev and the chain id).
CHAINED_FIELDS = (
    "at",
    "db",
    "doc_id",
    "rev",
    "officer_id",
    "device_id",
    "record_type",
    "deleted",
    "signed",
    "signer",
    "body",
)
KEY_FILE = "audit-signing.key"


def key_setting(fingerprint: str) -> str:
    """The state setting holding the public key of the gateway key ``fingerprint``."""
    return f"audit_key:{fingerprint}"


def head_setting(chain: str) -> str:
    """The state setting holding a chain's signed head (embedded state only)."""
    return f"audit_head:{chain}"


def _head_message(chain: str, head: str) -> bytes:
    # Not an entry hash: an entry's signature cannot pass for a head's.
    return f"head\n{chain}\n{head}".encode()


def entry_hash(fields: Mapping[str, Any], *, chain: str, prev: str | None) -> str:
    covered = {name: fields.get(name) for name in CHAINED_FIELDS}
    return hashlib.sha256(canonical_json({**covered, "chain": chain, "prev": prev})).hexdigest()


def _fingerprint(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def public_key_b64(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


class AuditSigner:
    """The gateway's audit key: signs each entry's hash."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = key.public_key()
        self.fingerprint = _fingerprint(self.public)

    @classmethod
    def load_or_create(cls, path: Path) -> AuditSigner:
        """The key in ``path`` (raw 32 bytes, owner-only), made on first use.

        Kept beside the state, not in it: whoever can edit the audit log in
        the database cannot re-sign it."""
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:  # made before, or by another process just now
            os.chmod(path, FILE_MODE)  # an older install left it readable
            return cls(Ed25519PrivateKey.from_private_bytes(path.read_bytes()))
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        return cls(key)

    def published_key(self) -> tuple[str, str]:
        """The state setting (key, value) that publishes this key for ``verify``."""
        return key_setting(self.fingerprint), public_key_b64(self.public)

    def sign(self, digest: str) -> str:
        return self._sign(digest.encode("ascii"))

    def _sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode("ascii")

    def seal_head(self, chain: str, head: str) -> str:
        """The value of :func:`head_setting`: the head and the gateway's signature over it."""
        return f"{head} {self._sign(_head_message(chain, head))}"


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What an entry carries to join its chain."""

    chain: str
    prev: str | None
    hash: str
    sig: str


class ChainHead:
    """The newest link of one chain; :meth:`link` extends it (callers serialize)."""

    def __init__(self, signer: AuditSigner, chain: str, head: str | None) -> None:
        self._signer = signer
        self.chain = chain
        self.head = head

    def sealed_head(self) -> str | None:
        return None if self.head is None else self._signer.seal_head(self.chain, self.head)

    def link(self, fields: Mapping[str, Any]) -> ChainLink:
        digest = entry_hash(fields, chain=self.chain, prev=self.head)
        link = ChainLink(self.chain, self.head, digest, self._signer.sign(digest))
        self.head = digest
        return link


class LazyChain:
    """The chain a state appends to, opened at the first append. Concurrent
    first appends wait for the one opening: two heads for one chain would fork it."""

    def __init__(self, open_chain: Callable[[], Awaitable[ChainHead]]) -> None:
        self._open_chain = open_chain
        self._chain: ChainHead | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ChainHead:
        if self._chain is None:
            async with self._lock:
                if self._chain is None:
                    self._chain = await self._open_chain()
        return self._chain


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """One entry as stored, for :func:`verify_chains`.

    ``where`` names it for the operator (its seq or document id); ``order``
    is its position in the log (entries without a link before the first
    linked one were written before the chain existed); ``forked``: CouchDB
    holds conflicting revisions of it."""

    where: str
    order: int
    fields: Mapping[str, Any]
    link: ChainLink | None
    forked: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    chain: str | None
    reason: str


@dataclass(slots=True)
class ChainReport:
    """Each chain's length and head, and every problem found."""

    chains: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unchained: int = 0  # entries written before the chain existed

    @property
    def intact(self) -> bool:
        return not self.problems


def _verifies(chain: str, sig: str, message: bytes, keys: Mapping[str, Ed25519PublicKey]) -> bool:
    key = keys.get(chain.split(".", 1)[0])
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(sig, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _signature_ok(link: ChainLink, keys: Mapping[str, Ed25519PublicKey]) -> bool:
    return _verifies(link.chain, link.sig, link.hash.encode("ascii"), keys)


def _check_head(
    chain: str, sealed: str, hashes: set[str], keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """What is wrong with a chain against its recorded head, if anything."""
    head, _, sig = sealed.partition(" ")
    if not _verifies(chain, sig, _head_message(chain, head), keys):
        return "forged: the recorded head is not signed by the gateway"
    if head not in hashes:
        return "its recorded head is missing: the newest entries were deleted"
    return None


def _walk(chain: str, entries: list[ChainedEntry], report: ChainReport) -> set[str]:
    """Report gaps and forks, the chain's length and head; its entries' hashes."""
    links = [(entry, entry.link) for entry in entries if entry.link is not None]
    by_hash = {link.hash: entry for entry, link in links}
    after: dict[str | None, list[ChainedEntry]] = defaultdict(list)
    for entry, link in links:
        after[link.prev].append(entry)
        if link.prev is not None and link.prev not in by_hash:
            report.problems.append(
                Problem(entry.where, chain, "the entry before it is missing (deleted?)")
            )
    for prev, followers in after.items():
        if len(followers) > 1:
            names = ", ".join(sorted(e.where for e in followers))
            what = "the chain's start" if prev is None else f"entry {by_hash[prev].where}"
            report.problems.append(
                Problem(names, chain, f"a fork: {len(followers)} entries follow {what}")
            )
    # Length and head along the first line of descent from the start.
    length, head, current = 0, None, after.get(None, [])
    while current:
        step = current[0].link
        assert step is not None
        length, head = length + 1, step.hash
        current = after.get(step.hash, [])
    report.chains[chain] = (length, head)
    return set(by_hash)


def verify_chains(
    entries: Iterable[ChainedEntry],
    keys: Mapping[str, Ed25519PublicKey],
    heads: Mapping[str, str] | None = None,
) -> ChainReport:
    """Check every entry and every chain; ``keys``: gateway public keys by
    fingerprint; ``heads``: the recorded (sealed) head of each chain that has one."""
    report = ChainReport()
    by_chain: dict[str, list[ChainedEntry]] = defaultdict(list)
    unlinked: list[ChainedEntry] = []
    for entry in entries:
        link = entry.link
        if entry.forked:
            report.problems.append(
                Problem(entry.where, link.chain if link else None, "a fork: conflicting revisions")
            )
        if link is None:
            unlinked.append(entry)
            continue
        by_chain[link.chain].append(entry)
        if entry_hash(entry.fields, chain=link.chain, prev=link.prev) != link.hash:
            report.problems.append(
                Problem(entry.where, link.chain, "edited: its content does not match its hash")
            )
        elif not _signature_ok(link, keys):
            report.problems.append(
                Problem(entry.where, link.chain, "forged: the gateway's signature does not verify")
            )
    first_linked = min((e.order for group in by_chain.values() for e in group), default=None)
    for entry in unlinked:
        if first_linked is not None and entry.order > first_linked:
            report.problems.append(
                Problem(entry.where, None, "no chain link, though written after the chain began")
            )
        else:
            report.unchained += 1
    for chain in sorted(by_chain):
        hashes = _walk(chain, by_chain[chain], report)
        sealed = (heads or {}).get(chain)
        if sealed is not None:
            wrong = _check_head(chain, sealed, hashes, keys)
            if wrong is not None:
                report.problems.append(Problem("the chain's head", chain, wrong))
    return report
