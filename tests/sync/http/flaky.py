"""A ``Database`` that delegates to a real one and fails where a test tells it to.

Used to interrupt replications at chosen calls (mid-batch, during a write,
during a checkpoint) and to count what reached the real store: every
document that ``bulk_docs`` actually passed on is recorded in ``written``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.database import Database, Doc
from sync.errors import RequestTooLarge

__all__ = ["Fault", "Flaky"]


@dataclass
class Fault:
    """Raise ``error`` on the ``nth`` call (1-based) of ``method``.

    ``after``: let the call reach the real store first, then raise (the write
    landed but its answer was lost). ``times``: how many consecutive calls fail.
    """

    method: str
    nth: int
    error: BaseException
    after: bool = False
    times: int = 1


class Flaky(Database):
    def __init__(
        self,
        inner: Database,
        faults: Sequence[Fault] = (),
        *,
        max_bulk_docs: int | None = None,
        refuse: Callable[[Doc], str | None] | None = None,
    ) -> None:
        self.inner = inner
        self.faults = list(faults)
        self.max_bulk_docs = max_bulk_docs  # larger bulk_docs batches get 413
        self.refuse = refuse  # doc -> error name to report for it (like a validate_doc_update)
        self.calls: Counter[str] = Counter()
        self.written: list[tuple[str, str]] = []  # (id, rev) of docs passed to the store
        self.bulk_docs_sizes: list[int] = []

    def _fault(self, method: str) -> Fault | None:
        n = self.calls[method]
        for fault in self.faults:
            if fault.method == method and fault.nth <= n < fault.nth + fault.times:
                return fault
        return None

    async def _call(self, method: str, run: Callable[[], Any]) -> Any:
        self.calls[method] += 1
        fault = self._fault(method)
        if fault and not fault.after:
            raise fault.error
        result = await run()
        if fault and fault.after:
            raise fault.error
        return result

    async def identity(self) -> str:
        return await self.inner.identity()

    async def info(self) -> Doc:
        return await self._call("info", self.inner.info)

    async def get(self, doc_id: str, **kw: Any) -> Doc:
        return await self._call("get", lambda: self.inner.get(doc_id, **kw))

    async def open_revs(self, doc_id: str, revs: Any, **kw: Any) -> list[Doc]:
        return await self._call("open_revs", lambda: self.inner.open_revs(doc_id, revs, **kw))

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        return await self._call("put", lambda: self.inner.put(doc, new_edits=new_edits))

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        async def run() -> list[Doc]:
            if self.max_bulk_docs is not None and len(docs) > self.max_bulk_docs:
                raise RequestTooLarge()
            refused = [(doc, self.refuse(doc)) for doc in docs] if self.refuse else []
            errors = [{"id": d["_id"], "rev": d.get("_rev"), "error": e, "reason": "refused"}
                      for d, e in refused if e]
            accepted = [d for d in docs if not (self.refuse and self.refuse(d))]
            self.bulk_docs_sizes.append(len(accepted))
            self.written.extend((d["_id"], d["_rev"]) for d in accepted)
            answer = await self.inner.bulk_docs(accepted, new_edits=new_edits)
            return answer + errors

        return await self._call("bulk_docs", run)

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        return await self._call("revs_diff", lambda: self.inner.revs_diff(revs))

    async def bulk_get(self, docs: Sequence[Mapping[str, Any]], **kw: Any) -> list[Doc]:
        return await self._call("bulk_get", lambda: self.inner.bulk_get(docs, **kw))

    async def changes(self, **kw: Any) -> Doc:
        return await self._call("changes", lambda: self.inner.changes(**kw))

    def changes_feed(self, **kw: Any) -> AsyncIterator[Doc]:
        return self.inner.changes_feed(**kw)

    async def all_docs(self, **kw: Any) -> Doc:
        return await self._call("all_docs", lambda: self.inner.all_docs(**kw))

    async def get_local(self, local_id: str) -> Doc:
        return await self._call("get_local", lambda: self.inner.get_local(local_id))

    async def put_local(self, doc: Doc) -> Doc:
        return await self._call("put_local", lambda: self.inner.put_local(doc))

    async def delete_local(self, local_id: str, rev: str) -> Doc:
        return await self._call("delete_local", lambda: self.inner.delete_local(local_id, rev))

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        return await self._call("purge", lambda: self.inner.purge(revs))

    async def close(self) -> None:
        await self.inner.close()

