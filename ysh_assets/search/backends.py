"""Where the index's points live, behind one interface: a Qdrant server (or qdrant-client's local mode, which
takes the same calls), or Qdrant Edge shards in a folder for the local profile.

qdrant-client's local mode scores sparse vectors in Python: about 290 ms a query at 21,000 points here. Qdrant
Edge (`qdrant-edge-py`) is Qdrant's engine in-process and answers the same hybrid query (prefetches, weighted
RRF, IDF) in about 4 ms, so the local profile uses it; the server path is tested through qdrant-client's local
mode, the same client calls the server gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

DENSE, SPARSE = "dense", "sparse"
KEYWORD_FIELDS = ("kind", "distributor", "category", "manufacturer", "model", "datasheet_sha256")
NUMBER_FIELDS = ("power_w", "price_brl")


@dataclass(frozen=True)
class Where:
    kind: str | None = None
    category: str | None = None
    max_price: float | None = None
    power_between: tuple[float, float] | None = None  # only in the extra prefetch of a query that names a power


@dataclass(frozen=True)
class Row:
    """A point to write: its id, dense vector, sparse vector (indices, values) and payload."""

    id: str
    dense: list[float]
    sparse: tuple[list[int], list[float]]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Record:
    id: str
    payload: dict[str, Any]
    dense_size: int | None = None  # with vectors only
    has_sparse: bool = False


class ClientBackend:
    """A Qdrant server at a URL, or qdrant-client's local mode in a folder (one process at a time)."""

    def __init__(self, client: QdrantClient, *, server: bool):
        self.client, self.server = client, server

    def close(self) -> None:
        self.client.close()

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def names(self) -> list[str]:
        return [c.name for c in self.client.get_collections().collections]

    def create(self, name: str, dimension: int) -> None:
        self.client.create_collection(
            name,
            vectors_config={DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self.server:  # local mode keeps no payload indexes (it filters by scanning) and warns about them
            for field in KEYWORD_FIELDS:
                self.client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)
            for field in NUMBER_FIELDS:
                self.client.create_payload_index(name, field, models.PayloadSchemaType.FLOAT)
            self.client.create_payload_index(name, "certified", models.PayloadSchemaType.BOOL)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def optimize(self, name: str) -> None:
        """A server optimizes segments by itself; local mode has nothing to build."""

    def alias(self, alias: str) -> str | None:
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}.get(alias)

    def point_alias(self, alias: str, name: str) -> None:
        """One call: a search sees the old collection or the new one, never none."""
        operations: list[Any] = []
        if self.alias(alias) is not None:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name,
                                                                                      alias_name=alias)))  # fmt: skip
        self.client.update_collection_aliases(change_aliases_operations=operations)

    def scroll(self, name: str, *, fields: list[str] | None = None, vectors: bool = False) -> Iterator[Record]:
        offset = None
        while True:
            points, offset = self.client.scroll(
                name, limit=1000, offset=offset, with_payload=fields if fields is not None else True,
                with_vectors=vectors,
            )  # fmt: skip
            for point in points:
                vector = point.vector if isinstance(point.vector, dict) else {}
                yield Record(str(point.id), point.payload or {}, _size(vector.get(DENSE)), SPARSE in vector)
            if offset is None:
                return

    def count(self, name: str) -> int:
        return self.client.count(name, exact=True).count

    def upsert(self, name: str, rows: list[Row]) -> None:
        points = [
            models.PointStruct(
                id=row.id,
                vector={DENSE: row.dense, SPARSE: models.SparseVector(indices=row.sparse[0], values=row.sparse[1])},
                payload=row.payload,
            )
            for row in rows
        ]
        self.client.upsert(name, points=points, wait=True)

    def delete(self, name: str, ids: list[str]) -> None:
        self.client.delete(name, points_selector=models.PointIdsList(points=ids), wait=True)

    def query(
        self,
        name: str,
        dense: list[float],
        sparse: tuple[list[int], list[float]],
        *,
        mode: str,
        weights: list[float],
        rrf_k: int,
        where: Where,
        limit: int,
        prefetch: int,
        near_power: tuple[float, float] | None = None,
    ) -> list[tuple[float, dict[str, Any]]]:
        condition = _client_filter(where)
        sparse_vector = models.SparseVector(indices=sparse[0], values=sparse[1])
        if mode == "dense":
            result = self.client.query_points(name, query=dense, using=DENSE, query_filter=condition, limit=limit,
                                              with_payload=True)  # fmt: skip
        elif mode == "sparse":
            result = self.client.query_points(name, query=sparse_vector, using=SPARSE, query_filter=condition,
                                              limit=limit, with_payload=True)  # fmt: skip
        else:
            prefetches = [
                models.Prefetch(query=dense, using=DENSE, limit=prefetch, filter=condition),
                models.Prefetch(query=sparse_vector, using=SPARSE, limit=prefetch, filter=condition),
            ]
            if near_power is not None:
                near = _client_filter(replace(where, power_between=near_power))
                prefetches.append(models.Prefetch(query=dense, using=DENSE, limit=prefetch, filter=near))
            result = self.client.query_points(
                name,
                prefetch=prefetches,
                query=models.RrfQuery(rrf=models.Rrf(k=rrf_k, weights=weights)),
                query_filter=condition,
                limit=limit,
                with_payload=True,
            )
        return [(p.score, p.payload or {}) for p in result.points]


def _size(vector: Any) -> int | None:
    return len(vector) if isinstance(vector, list) else None


def _client_filter(where: Where) -> models.Filter | None:
    must: list[Any] = []
    if where.kind:
        must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=where.kind)))
    if where.category:
        must.append(models.FieldCondition(key="category", match=models.MatchValue(value=where.category)))
    if where.max_price is not None:
        must.append(models.FieldCondition(key="price_brl", range=models.Range(lte=where.max_price)))
    if where.power_between is not None:
        low, high = where.power_between
        must.append(models.FieldCondition(key="power_w", range=models.Range(gte=low, lte=high)))
    return models.Filter(must=must) if must else None


class EdgeBackend:
    """Qdrant Edge shards under `folder/collections/<name>`, aliases in `folder/aliases.json` (replaced
    atomically), and a file lock: writers exclusive, readers shared, so any number of `ysh search` processes read
    while no run writes, and wait for a run that does."""

    def __init__(self, folder: str, *, write: bool):
        """Raises BlockingIOError at once when the lock is taken (the caller decides how long to wait)."""
        import qdrant_edge as edge

        self.edge = edge
        self.folder = Path(folder)
        (self.folder / "collections").mkdir(parents=True, exist_ok=True)
        self._lock = open(self.folder / ".lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise
        self._shards: dict[str, Any] = {}
        # Read once per open: no other process can rewrite them while this one holds the lock.
        path = self.folder / "aliases.json"
        self._alias_map: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    def close(self) -> None:
        for shard in self._shards.values():
            with contextlib.suppress(Exception):
                shard.flush()
            shard.close()
        self._shards.clear()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def _path(self, name: str) -> Path:
        return self.folder / "collections" / name

    def _shard(self, name: str) -> Any:
        name = self.alias(name) or name
        if name not in self._shards:
            self._shards[name] = self.edge.EdgeShard.load(str(self._path(name)))
        return self._shards[name]

    def exists(self, name: str) -> bool:
        target = self.alias(name) or name
        return (self._path(target) / ".created").exists()

    def names(self) -> list[str]:
        return sorted(p.name for p in (self.folder / "collections").iterdir() if (p / ".created").exists())

    def create(self, name: str, dimension: int) -> None:
        path = self._path(name)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        config = self.edge.EdgeConfig(
            vectors={DENSE: self.edge.EdgeVectorParams(size=dimension, distance=self.edge.Distance.Cosine)},
            sparse_vectors={SPARSE: self.edge.EdgeSparseVectorParams(modifier=self.edge.Modifier.Idf)},
        )
        shard = self.edge.EdgeShard.create(str(path), config)
        # Filtered prefetches (a category, a price cap, a power window) use these instead of scanning every point.
        for field_name in KEYWORD_FIELDS:
            shard.update(self.edge.UpdateOperation.create_field_index(field_name, self.edge.PayloadSchemaType.Keyword))
        for field_name in NUMBER_FIELDS:
            shard.update(self.edge.UpdateOperation.create_field_index(field_name, self.edge.PayloadSchemaType.Float))
        self._shards[name] = shard
        (path / ".created").touch()  # a folder without it is a creation that did not finish

    def optimize(self, name: str) -> None:
        """Merge the segments the upserts wrote and build their vector and payload indexes."""
        self._shard(name).optimize()

    def drop(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._path(name), ignore_errors=True)

    def alias(self, alias: str) -> str | None:
        return self._alias_map.get(alias)

    def point_alias(self, alias: str, name: str) -> None:
        aliases = {**self._alias_map, alias: name}
        temporary = self.folder / "aliases.json.tmp"
        temporary.write_text(json.dumps(aliases))
        os.replace(temporary, self.folder / "aliases.json")
        self._alias_map = aliases

    def scroll(self, name: str, *, fields: list[str] | None = None, vectors: bool = False) -> Iterator[Record]:
        shard, offset = self._shard(name), None
        while True:
            request = self.edge.ScrollRequest(
                offset=offset, limit=1000, with_payload=fields if fields is not None else True, with_vector=vectors
            )
            points, offset = shard.scroll(request)
            for point in points:
                vector = point.vector if isinstance(point.vector, dict) else {}
                yield Record(str(point.id), dict(point.payload or {}), _size(vector.get(DENSE)), SPARSE in vector)
            if offset is None:
                return

    def count(self, name: str) -> int:
        return self._shard(name).count(self.edge.CountRequest(exact=True))

    def upsert(self, name: str, rows: list[Row]) -> None:
        points = [
            self.edge.Point(
                row.id, {DENSE: row.dense, SPARSE: self.edge.SparseVector(row.sparse[0], row.sparse[1])}, row.payload
            )
            for row in rows
        ]
        self._shard(name).update(self.edge.UpdateOperation.upsert_points(points))

    def delete(self, name: str, ids: list[str]) -> None:
        self._shard(name).update(self.edge.UpdateOperation.delete_points(ids))

    def query(
        self,
        name: str,
        dense: list[float],
        sparse: tuple[list[int], list[float]],
        *,
        mode: str,
        weights: list[float],
        rrf_k: int,
        where: Where,
        limit: int,
        prefetch: int,
        near_power: tuple[float, float] | None = None,
    ) -> list[tuple[float, dict[str, Any]]]:
        edge, condition = self.edge, self._filter(where)
        nearest_dense = edge.Query.Nearest(dense, using=DENSE)
        nearest_sparse = edge.Query.Nearest(edge.SparseVector(sparse[0], sparse[1]), using=SPARSE)
        if mode in ("dense", "sparse"):
            request = edge.QueryRequest(limit=limit, query=nearest_dense if mode == "dense" else nearest_sparse,
                                        filter=condition, with_payload=True)  # fmt: skip
        else:
            prefetches = [
                edge.Prefetch(limit=prefetch, query=nearest_dense, filter=condition),
                edge.Prefetch(limit=prefetch, query=nearest_sparse, filter=condition),
            ]
            if near_power is not None:
                near = self._filter(replace(where, power_between=near_power))
                prefetches.append(edge.Prefetch(limit=prefetch, query=nearest_dense, filter=near))
            request = edge.QueryRequest(
                limit=limit,
                query=edge.Fusion.Rrf(k=rrf_k, weights=weights),
                prefetches=prefetches,
                filter=condition,
                with_payload=True,
            )
        return [(p.score, dict(p.payload or {})) for p in self._shard(name).query(request)]

    def _filter(self, where: Where) -> Any:
        edge, must = self.edge, []
        if where.kind:
            must.append(edge.FieldCondition(key="kind", match=edge.MatchValue(where.kind)))
        if where.category:
            must.append(edge.FieldCondition(key="category", match=edge.MatchValue(where.category)))
        if where.max_price is not None:
            must.append(edge.FieldCondition(key="price_brl", range=edge.RangeFloat(lte=where.max_price)))
        if where.power_between is not None:
            low, high = where.power_between
            must.append(edge.FieldCondition(key="power_w", range=edge.RangeFloat(gte=low, lte=high)))
        return edge.Filter(must=must) if must else None
