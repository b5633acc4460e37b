"""The Qdrant index: one code path for the server (`services`) and local mode on disk (`local`).

A collection per embedding model (`ysh_search__<model>`) holds a dense vector and a lexical sparse vector per
point; the alias `ysh_search` names the live one. A new model builds its collection beside the old one and the
alias moves in one atomic call when it is complete, so a search never sees a half-built index. With the same
model a run updates the live collection in place: only documents whose content hash changed are embedded again,
and points whose source disappeared are deleted.

Local mode locks its folder to one process: the client is opened per operation and closed after it, a reader
waits for a writer (`lock_wait_seconds`), and the checks run in the asset's own step, never in another process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr
from qdrant_client import QdrantClient, models

from ysh_assets.search import sparse
from ysh_assets.search.documents import Document
from ysh_assets.search.embeddings import USE_MODEL, DenseEncoder, encoder_for
from ysh_assets.settings import DEFAULTS

ALIAS = "ysh_search"
DENSE, SPARSE = "dense", "sparse"
BATCH = 256
RRF_K = 60  # the usual reciprocal-rank constant: rank 1 scores 1/61, rank 10 1/70
SPARSE_WEIGHT_FOR_CODES = 2.0
RERANK_POOL = 40
POWER_VOTES = 1.2
MANUFACTURER_VOTES = 2.0
CATEGORY_VOTES = 1.2
MODEL_VOTES = 3.0
KEYWORD_FIELDS = ("kind", "distributor", "category", "manufacturer", "model", "datasheet_sha256")
NUMBER_FIELDS = ("power_w", "price_brl")
_LOCKED = "already accessed by another instance"


class IndexBusy(RuntimeError):
    """Local mode: another process holds the index folder longer than the reader was willing to wait."""


@dataclass(frozen=True)
class Hit:
    score: float
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        p = self.payload
        return {
            "score": round(self.score, 4),
            "kind": p["kind"],
            "title": p["title"],
            "manufacturer": p.get("manufacturer"),
            "model": p.get("model"),
            "price_brl": p.get("price_brl"),
            "power_w": p.get("power_w"),
            "category": p.get("category"),
            "source": source_of(p),
        }


def source_of(payload: dict[str, Any]) -> dict[str, Any]:
    """Where a result came from: the distributor's page, or the datasheet (sha256, pages)."""
    if payload["kind"] == "spec":
        return {"datasheet_sha256": payload.get("datasheet_sha256"), "pages": payload.get("pages"),
                "file": payload.get("source_url")}  # fmt: skip
    return {"distributor": payload.get("distributor"), "url": payload.get("source_url")}


@dataclass(frozen=True)
class SyncReport:
    collection: str
    added: int
    updated: int
    unchanged: int
    deleted: int
    embed_seconds: float
    seconds: float

    @property
    def embedded(self) -> int:
        return self.added + self.updated


class SearchIndex(dg.ConfigurableResource):
    """Where the index lives (a server URL or a local folder) and which dense model fills it."""

    url: str = Field(default="", description="Qdrant server URL (services profile, YSH_QDRANT_URL).")
    path: str = Field(default="", description="Local-mode folder (local profile: $YSH_DATA_DIR/qdrant).")
    embedding_model: str = Field(default=USE_MODEL, description="YSH_EMBEDDING_MODEL: the bundled model or ollama:<m>")
    ollama_url: str = Field(default=DEFAULTS["YSH_OLLAMA_URL"])
    alias: str = Field(default=ALIAS)
    lock_wait_seconds: float = Field(default=30.0, description="Local mode: how long a reader waits for a writer.")
    _encoder: DenseEncoder | None = PrivateAttr(default=None)

    @property
    def encoder(self) -> DenseEncoder:
        if self._encoder is None:
            self._encoder = encoder_for(self.embedding_model, self.ollama_url)
        return self._encoder

    @property
    def collection(self) -> str:
        return f"{self.alias}__{self.encoder.name.replace('-', '_')}"

    def location(self) -> str:
        return self.url or f"local:{self.path}"

    @contextmanager
    def client(self) -> Iterator[QdrantClient]:
        """A client for one operation; in local mode it holds the folder's lock until closed."""
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                client = QdrantClient(url=self.url) if self.url else QdrantClient(path=self._local_folder())
                break
            except RuntimeError as error:
                if _LOCKED not in str(error):
                    raise
                if time.monotonic() > deadline:
                    raise IndexBusy(
                        f"the index folder {self.path} is being written by another process (Qdrant local mode "
                        f"locks it); waited {self.lock_wait_seconds:g} s. Retry, or use the Qdrant server."
                    ) from None
                time.sleep(0.2)
        try:
            yield client
        finally:
            client.close()

    def _local_folder(self) -> str:
        Path(self.path).mkdir(parents=True, exist_ok=True)
        return self.path

    # ----------------------------------------------------------------------------------------------------------

    def sync(self, documents: list[Document], log: Any = None, *, publish: bool = True) -> SyncReport:
        """Bring the model's collection to exactly these documents, then point the alias at it (unless
        `publish` is off: the collection is complete but the alias still names the one before)."""
        started = time.perf_counter()
        wanted = {d.point_id: d for d in documents}
        with self.client() as client:
            self._ensure_collection(client)
            existing = self._content_hashes(client)
            changed = [d for pid, d in wanted.items() if existing.get(pid) != d.content_hash]
            vanished = [pid for pid in existing if pid not in wanted]
            embed_seconds = 0.0
            for start in range(0, len(changed), BATCH):
                batch = changed[start : start + BATCH]
                t0 = time.perf_counter()
                dense = self.encoder.encode([d.text for d in batch])
                embed_seconds += time.perf_counter() - t0
                points = [
                    models.PointStruct(
                        id=d.point_id,
                        vector={DENSE: vector.tolist(), SPARSE: sparse.document_vector(d.text)},
                        payload={**d.full_payload(), "embedding_model": self.embedding_model},
                    )
                    for d, vector in zip(batch, dense, strict=True)
                ]
                client.upsert(self.collection, points=points, wait=True)
                if log is not None:
                    log.info(f"upserted {start + len(batch)} of {len(changed)} changed documents")
            if vanished:
                client.delete(self.collection, points_selector=models.PointIdsList(points=vanished), wait=True)
            if publish:
                self.publish(client)
        added = sum(1 for d in changed if d.point_id not in existing)
        return SyncReport(
            collection=self.collection,
            added=added,
            updated=len(changed) - added,
            unchanged=len(wanted) - len(changed),
            deleted=len(vanished),
            embed_seconds=embed_seconds,
            seconds=time.perf_counter() - started,
        )

    def _ensure_collection(self, client: QdrantClient) -> None:
        if client.collection_exists(self.collection):
            return
        client.create_collection(
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=self.encoder.dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self.url:  # local mode keeps no payload indexes (it filters by scanning) and warns about them
            for name in KEYWORD_FIELDS:
                client.create_payload_index(self.collection, name, models.PayloadSchemaType.KEYWORD)
            for name in NUMBER_FIELDS:
                client.create_payload_index(self.collection, name, models.PayloadSchemaType.FLOAT)
            client.create_payload_index(self.collection, "certified", models.PayloadSchemaType.BOOL)

    def _content_hashes(self, client: QdrantClient) -> dict[str, str]:
        hashes: dict[str, str] = {}
        offset = None
        while True:
            points, offset = client.scroll(
                self.collection, limit=1000, offset=offset, with_payload=["content_hash"], with_vectors=False
            )
            hashes.update({str(p.id): p.payload.get("content_hash", "") for p in points})
            if offset is None:
                return hashes

    def publish(self, client: QdrantClient) -> None:
        """Point the alias at this model's collection in one call, then drop other models' collections."""
        current = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        if current.get(self.alias) != self.collection:
            operations: list[Any] = []
            if self.alias in current:
                operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.alias)))
            operations.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=self.collection, alias_name=self.alias)
                )
            )
            client.update_collection_aliases(change_aliases_operations=operations)
        for description in client.get_collections().collections:
            name = description.name
            if name.startswith(f"{self.alias}__") and name != self.collection:
                client.delete_collection(name)

    def _live_encoder(self, client: QdrantClient) -> DenseEncoder:
        """The encoder of the live collection: while a new model's collection is being built, the alias still
        names the old one, and queries must be embedded by the old model to be compared with its vectors."""
        live = _live_model(client, self.alias)
        if live is None or live == self.embedding_model:
            return self.encoder
        return encoder_for(live, self.ollama_url)

    # ----------------------------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kind: str | None = None,
        category: str | None = None,
        max_price: float | None = None,
        mode: str = "hybrid",
        client: QdrantClient | None = None,
    ) -> list[Hit]:
        """Dense and sparse candidates fused by reciprocal rank (Qdrant's Query API: prefetch + RRF)."""
        if client is None:
            with self.client() as own:
                return self.search(
                    query, limit=limit, kind=kind, category=category, max_price=max_price, mode=mode, client=own
                )
        where = search_filter(kind=kind, category=category, max_price=max_price)
        dense = models.Prefetch(
            query=self._live_encoder(client).encode([query])[0].tolist(),
            using=DENSE,
            limit=max(50, 4 * limit),
            filter=where,
        )
        lexical = models.Prefetch(
            query=sparse.query_vector(query), using=SPARSE, limit=max(50, 4 * limit), filter=where
        )
        if mode == "dense":
            result = client.query_points(self.alias, query=dense.query, using=DENSE, query_filter=where, limit=limit,
                                         with_payload=True)  # fmt: skip
        elif mode == "sparse":
            result = client.query_points(self.alias, query=lexical.query, using=SPARSE, query_filter=where,
                                         limit=limit, with_payload=True)  # fmt: skip
        else:
            # A model code in the query makes the exact terms count more than the meaning.
            weights = [1.0, SPARSE_WEIGHT_FOR_CODES if sparse.has_model_code(query) else 1.0]
            result = client.query_points(
                self.alias,
                prefetch=[dense, lexical],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=weights)),
                query_filter=where,
                limit=max(limit, RERANK_POOL),
                with_payload=True,
            )
            return rerank([Hit(p.score, p.payload or {}) for p in result.points], query)[:limit]
        return [Hit(p.score, p.payload or {}) for p in result.points]


# What a concept named in the query says about a result: its kind or its category.
CONCEPT_MATCHES = {
    "c:inverter": {"inverter", "hybrid_inverter", "inverter_string", "inverter_hybrid"},
    "c:microinverter": {"microinverter", "inverter_micro"},
    "c:module": {"module"},
    "c:battery": {"battery"},
    "c:hybrid": {"hybrid_inverter", "inverter_hybrid"},
    "c:kit": {"kit"},
    "c:datasheet": {"spec"},
}


def _live_model(client: QdrantClient, alias: str) -> str | None:
    """The embedding setting of the collection the alias names (every point records it)."""
    points, _ = client.scroll(alias, limit=1, with_payload=["embedding_model"], with_vectors=False)
    return points[0].payload.get("embedding_model") if points else None


def rerank(hits: list[Hit], query: str) -> list[Hit]:
    """Fused candidates re-ordered by what the query names outright, which text similarity weighs poorly: the
    result's model number spelled in full, a power ('5 kW', '4 kWp': text cannot say 4.26 kWp is near 4 kWp),
    the result's manufacturer, its kind or category ('inversor', 'kit', 'datasheet'). Each adds to the fused
    score in units of one first-rank vote of the reciprocal-rank fusion, so a named brand outweighs a result
    that only both retrievers liked."""
    wanted = sparse.query_power(query)
    words = set(sparse.terms(query))
    concepts = {t for t in words if t.startswith("c:")}

    vote = 1 / (RRF_K + 1)
    spelled = _alnum(query)

    def boosted(hit: Hit) -> float:
        payload, votes = hit.payload, 0.0
        power = payload.get("power_w")
        if wanted and power:
            votes += POWER_VOTES * max(0.0, 1 - abs(math.log(power / wanted)) / math.log(1.25))
        maker = sparse.fold(payload.get("manufacturer") or "").split()
        if maker and maker[0] in words:
            votes += MANUFACTURER_VOTES
        model = _alnum(payload.get("model") or "")
        if len(model) >= 5 and model in spelled:  # the query spells this result's model number
            votes += MODEL_VOTES
        if any({payload.get("kind"), payload.get("category")} & CONCEPT_MATCHES.get(c, set()) for c in concepts):
            votes += CATEGORY_VOTES
        return hit.score + votes * vote

    return sorted(hits, key=boosted, reverse=True)


def _alnum(text: str) -> str:
    return "".join(ch for ch in sparse.fold(text) if ch.isalnum())


def search_filter(*, kind: str | None, category: str | None, max_price: float | None) -> models.Filter | None:
    must: list[Any] = []
    if kind:
        must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=kind)))
    if category:
        must.append(models.FieldCondition(key="category", match=models.MatchValue(value=category)))
    if max_price is not None:
        must.append(models.FieldCondition(key="price_brl", range=models.Range(lte=max_price)))
    return models.Filter(must=must) if must else None
