"""One embedded store per station database, opened on first use, closed at shutdown."""

from __future__ import annotations

import abc
import asyncio
from pathlib import Path

from sync.codec import BodyCodec
from sync.database import Database
from sync.files import private_dir

__all__ = ["STATIONS_DIR", "SQLiteStationStores", "StationDatabases"]

# The folder of the station stores under an embedded gateway's data folder.
STATIONS_DIR = "stations"


class StationDatabases(abc.ABC):
    """The station databases the gateway serves, by station id: embedded
    (:class:`SQLiteStationStores`) or in CouchDB (``server.couch.backend``)."""

    @abc.abstractmethod
    async def get(self, station_id: str) -> Database: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class SQLiteStationStores(StationDatabases):
    def __init__(self, root: Path, *, codec: BodyCodec | None = None) -> None:
        self._root = root
        self._codec = codec
        self._open: dict[str, Database] = {}
        self._lock = asyncio.Lock()

    def path_of(self, station_id: str) -> Path:
        # station ids are slugs (checked before this is called), so this stays under root.
        return self._root / f"{station_id}.sqlite"

    async def get(self, station_id: str) -> Database:
        store = self._open.get(station_id)
        if store is not None:
            return store
        async with self._lock:
            store = self._open.get(station_id)
            if store is None:
                from sync.sqlite import SQLiteDatabase

                private_dir(self._root)
                store = await SQLiteDatabase.open(self.path_of(station_id), codec=self._codec)
                self._open[station_id] = store
        return store

    async def close(self) -> None:
        async with self._lock:
            stores, self._open = list(self._open.values()), {}
        for store in stores:
            await store.close()
