"""Messages to citizens (confirmation, reminder, cancellation), queued for a sender.

The outbox is a JSON-lines file in the gateway's data folder (owner-only,
like every file there: it holds phone numbers); a sender (SMS gateway,
e-mail) drains what is due. No sender is built in: none is reachable from
every district, and tests read the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Message", "Outbox", "Sender"]


@dataclass(frozen=True, slots=True)
class Message:
    kind: str  # confirmation, reminder, cancellation
    phone: str
    number: str  # the booking number it is about
    text: str
    not_before: str  # ISO time: a reminder waits for its day


Sender = Callable[[Message], Awaitable[None]]


def _lines(messages: Sequence[Message]) -> str:
    return "".join(json.dumps(asdict(m), ensure_ascii=False) + "\n" for m in messages)


class Outbox:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()

    async def add(self, *messages: Message) -> None:
        async with self._lock:
            await asyncio.to_thread(self._write, _lines(messages), os.O_APPEND)

    def _write(self, lines: str, mode: int) -> None:
        # Owner-only from its creation: the lines hold phone numbers.
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(lines)

    async def pending(self) -> list[Message]:
        async with self._lock:
            return await asyncio.to_thread(self._read)

    def _read(self) -> list[Message]:
        if not self._path.exists():
            return []
        with self._path.open(encoding="utf-8") as lines:
            return [Message(**json.loads(line)) for line in lines if line.strip()]

    async def withdraw(self, number: str) -> None:
        """Drop the pending reminder of booking ``number`` (cancelled or moved)."""
        async with self._lock:
            kept = [
                m
                for m in await asyncio.to_thread(self._read)
                if not (m.number == number and m.kind == "reminder")
            ]
            await asyncio.to_thread(self._write, _lines(kept), os.O_TRUNC)

    async def drain(self, send: Sender, now: str) -> int:
        """Send every message due by ``now``; keep the rest (and any that failed)."""
        async with self._lock:
            waiting = await asyncio.to_thread(self._read)
            kept: list[Message] = []
            for message in waiting:
                if message.not_before > now:
                    kept.append(message)
                    continue
                try:
                    await send(message)
                except Exception:  # the sender's outage must not lose the message
                    kept.append(message)
            await asyncio.to_thread(self._write, _lines(kept), os.O_TRUNC)
            return len(waiting) - len(kept)
