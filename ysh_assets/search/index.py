"""The search index: one collection per embedding model behind an alias, over one backend interface
(`backends.py`: a Qdrant server, qdrant-client's local mode, or Qdrant Edge in a folder).

A collection per embedding model (`ysh_search__<model>`) holds a dense vector and a lexical sparse vector per
point; the alias `ysh_search` names the live one. A new model builds its collection beside the old one and the
alias moves in one atomic step when it is complete, so a search never sees a half-built index. With the same
model a run updates the live collection in place: only documents whose content hash changed are embedded again,
and points whose source disappeared are deleted.

Local folders are opened per operation: Qdrant Edge takes a file lock (a run writes alone, searches share), and
qdrant-client's local mode locks the folder to one process, so a reader waits for a writer
(`lock_wait_seconds`) and the checks run in the asset's own step.
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
from qdrant_client import QdrantClient

from ysh_assets.search import sparse
from ysh_assets.search.backends import ClientBackend, EdgeBackend, Row, Where
from ysh_assets.search.documents import Document
from ysh_assets.search.embeddings import USE_MODEL, DenseEncoder, encoder_for
from ysh_assets.settings import DEFAULTS

ALIAS = "ysh_search"
BATCH = 256
RRF_K = 60  # the usual reciprocal-rank constant: rank 1 scores 1/61, rank 10 1/70
SPARSE_WEIGHT_FOR_CODES = 2.0
RERANK_POOL = 40
POWER_VOTES = 1.2
MANUFACTURER_VOTES = 2.0
CATEGORY_VOTES = 1.2
MODEL_VOTES = 3.0
POWER_WINDOW = 1.25  # 'near a power': within a factor of 1.25 either way, as the rerank counts it
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
    local_engine: str = Field(default="edge", description="A local folder's engine: edge, or qdrant-local "
                              "(qdrant-client's local mode: the server's calls, for tests of that path).")  # fmt: skip
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
    def client(self, *, write: bool = False) -> Iterator[ClientBackend | EdgeBackend]:
        """A backend for one operation; a local folder stays locked until it is closed."""
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                backend = self._open(write)
                break
            except (RuntimeError, BlockingIOError) as error:
                if isinstance(error, RuntimeError) and _LOCKED not in str(error):
                    raise
                if time.monotonic() > deadline:
                    raise IndexBusy(
                        f"the index folder {self.path} is being written by another process (the local index "
                        f"locks it); waited {self.lock_wait_seconds:g} s. Retry, or use the Qdrant server."
                    ) from None
                time.sleep(0.2)
        try:
            yield backend
        finally:
            backend.close()

    def _open(self, write: bool) -> ClientBackend | EdgeBackend:
        if self.url:
            return ClientBackend(QdrantClient(url=self.url), server=True)
        Path(self.path).mkdir(parents=True, exist_ok=True)
        if self.local_engine == "edge":
            return EdgeBackend(self.path, write=write)
        return ClientBackend(QdrantClient(path=self.path), server=False)

    # ----------------------------------------------------------------------------------------------------------

    def sync(self, documents: list[Document], log: Any = None, *, publish: bool = True) -> SyncReport:
        """Bring the model's collection to exactly these documents, then point the alias at it (unless
        `publish` is off: the collection is complete but the alias still names the one before)."""
        started = time.perf_counter()
        wanted = {d.point_id: d for d in documents}
        with self.client(write=True) as backend:
            if not backend.exists(self.collection):
                backend.create(self.collection, self.encoder.dimension)
            stored = backend.scroll(self.collection, fields=["content_hash"])
            existing = {record.id: record.payload.get("content_hash", "") for record in stored}
            changed = [d for pid, d in wanted.items() if existing.get(pid) != d.content_hash]
            vanished = [pid for pid in existing if pid not in wanted]
            embed_seconds = 0.0
            for start in range(0, len(changed), BATCH):
                batch = changed[start : start + BATCH]
                t0 = time.perf_counter()
                dense = self.encoder.encode([d.text for d in batch])
                embed_seconds += time.perf_counter() - t0
                rows = []
                for document, vector in zip(batch, dense, strict=True):
                    terms = sparse.document_vector(document.text)
                    payload = {**document.full_payload(), "embedding_model": self.embedding_model}
                    rows.append(Row(document.point_id, vector.tolist(), (terms.indices, terms.values), payload))
                backend.upsert(self.collection, rows)
                if log is not None:
                    log.info(f"upserted {start + len(batch)} of {len(changed)} changed documents")
            if vanished:
                backend.delete(self.collection, vanished)
            if changed or vanished:
                backend.optimize(self.collection)
            if publish:
                self.publish(backend)
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

    def publish(self, backend: ClientBackend | EdgeBackend) -> None:
        """Point the alias at this model's collection, then drop other models' collections."""
        if backend.alias(self.alias) != self.collection:
            backend.point_alias(self.alias, self.collection)
        for name in backend.names():
            if name.startswith(f"{self.alias}__") and name != self.collection:
                backend.drop(name)

    def _live_encoder(self, backend: ClientBackend | EdgeBackend) -> DenseEncoder:
        """The encoder of the live collection: while a new model's collection is being built, the alias still
        names the old one, and queries must be embedded by the old model to be compared with its vectors."""
        live = backend.alias(self.alias)
        if live is None or live == self.collection:
            return self.encoder
        first = next(iter(backend.scroll(self.alias, fields=["embedding_model"])), None)
        model = first.payload.get("embedding_model") if first else None
        return encoder_for(model, self.ollama_url) if model else self.encoder

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
        client: ClientBackend | EdgeBackend | None = None,
    ) -> list[Hit]:
        """Dense and sparse candidates fused by weighted reciprocal rank (prefetch + RRF), then reranked."""
        if client is None:
            with self.client() as own:
                return self.search(
                    query, limit=limit, kind=kind, category=category, max_price=max_price, mode=mode, client=own
                )
        terms = sparse.query_vector(query)
        # A model code in the query makes the exact terms count more than the meaning.
        weights = [1.0, SPARSE_WEIGHT_FOR_CODES if sparse.has_model_code(query) else 1.0]
        # A query that names a power also draws candidates near it: neither retriever can tell 2.1 kWp is near 2.
        power = sparse.query_power(query)
        near_power = (power / POWER_WINDOW, power * POWER_WINDOW) if power else None
        if near_power:
            weights.append(1.0)
        results = client.query(
            self.alias,
            self._live_encoder(client).encode([query])[0].tolist(),
            (terms.indices, terms.values),
            mode=mode,
            weights=weights,
            rrf_k=RRF_K,
            where=Where(kind=kind, category=category, max_price=max_price),
            limit=max(limit, RERANK_POOL) if mode == "hybrid" else limit,
            prefetch=max(50, 4 * limit),
            near_power=near_power,
        )
        hits = [Hit(score, payload) for score, payload in results]
        return rerank(hits, query)[:limit] if mode == "hybrid" else hits


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
            votes += POWER_VOTES * max(0.0, 1 - abs(math.log(power / wanted)) / math.log(POWER_WINDOW))
        maker = sparse.fold(payload.get("manufacturer") or "").split()
        if maker and maker[0] in words:
            votes += MANUFACTURER_VOTES
        model = _alnum(payload.get("model") or "")
        if len(model) >= 5 and model in spelled:  # the query spells this result's model number
            votes += MODEL_VOTES
        if any({payload.get("kind"), payload.get("category")} & CONCEPT_MATCHES.get(c, set()) for c in concepts):
            votes += CATEGORY_VOTES
        return hit.score + votes * vote

    return sorted((Hit(boosted(hit), hit.payload) for hit in hits), key=lambda hit: hit.score, reverse=True)


def _alnum(text: str) -> str:
    return "".join(ch for ch in sparse.fold(text) if ch.isalnum())
