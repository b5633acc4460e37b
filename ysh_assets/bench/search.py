"""`ysh bench search`: retrieval quality (recall@5, MRR) of dense-only, sparse-only and hybrid search over the
bundled catalog and datasheets, query latency, and indexing throughput, also at 20,000 synthetic points.

Not a test: it prints what it measures and asserts nothing. The documents are built by the same adapters,
extractor and document builders the assets use, from the files bundled in `ysh_assets/sample_data`.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ysh_assets.catalog.distributors import DISTRIBUTORS, read_catalog
from ysh_assets.catalog.tables import components_frame, kits_frame, products_frame
from ysh_assets.search.documents import Document, kit_documents, product_documents, spec_documents
from ysh_assets.search.index import SearchIndex

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
QUERIES = Path(__file__).with_name("search_queries.json")
MODES = ("dense", "sparse", "hybrid")


def bundled_documents() -> list[Document]:
    from ysh_assets.datasheets.pipeline import process_pdf

    batches = [
        read_catalog(d, f) for d in DISTRIBUTORS for f in sorted((SAMPLES / "catalog" / d).glob("*")) if f.is_file()
    ]
    day = date.today()
    documents = product_documents(products_frame(batches, day)) + kit_documents(
        kits_frame(batches, day), components_frame(batches, day)
    )
    rows = []
    for pdf in sorted((SAMPLES / "datasheets").glob("*.pdf")):
        processed = process_pdf(pdf, filename=pdf.name)
        rows += [{**spec, "filename": pdf.name, "object_key": None} for spec in processed.specs]
    return documents + spec_documents(pl.DataFrame(rows, infer_schema_length=None))


def relevant(payload: dict[str, Any], query: dict[str, Any]) -> bool:
    if "kind" in query and payload["kind"] != query["kind"]:
        return False
    if "category" in query and payload.get("category") not in query["category"]:
        return False
    if "manufacturer" in query and (payload.get("manufacturer") or "").upper() != query["manufacturer"]:
        return False
    if "model" in query and not any(
        re.search(query["model"], payload.get(name) or "", re.IGNORECASE) for name in ("model", "title")
    ):
        return False
    if "power_w" in query:
        low, high = query["power_w"]
        if payload.get("power_w") is None or not low <= payload["power_w"] <= high:
            return False
    return True


def evaluate(index: SearchIndex, queries: list[dict[str, Any]], mode: str) -> dict[str, float]:
    ranks, latencies = [], []
    with index.client() as client:
        for query in queries:
            started = time.perf_counter()
            hits = index.search(query["q"], limit=10, mode=mode, client=client)
            latencies.append(time.perf_counter() - started)
            rank = next((i for i, hit in enumerate(hits, start=1) if relevant(hit.payload, query)), None)
            ranks.append(rank)
    return {
        "recall_at_5": sum(1 for r in ranks if r and r <= 5) / len(ranks),
        "mrr": sum(1 / r for r in ranks if r) / len(ranks),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * statistics.quantiles(latencies, n=20)[-1],
        "missed": [q["q"] for q, r in zip(queries, ranks, strict=True) if not r or r > 5],
    }


def synthetic_documents(count: int, seed: int = 7) -> list[Document]:
    """Product-like documents: brands, model codes, powers and prices in the catalog's shapes."""
    rng = random.Random(seed)
    brands = ["GOODWE", "HUAWEI", "GROWATT", "DEYE", "SOLIS", "TRINA", "JINKO", "RISEN", "BYD", "SUNGROW"]
    kinds = [("inverter", "Inversor", 3000, 75000), ("module", "Painel Solar", 400, 720), ("battery", "Bateria", 0, 0)]
    documents = []
    for i in range(count):
        category, word, low, high = rng.choice(kinds)
        brand = rng.choice(brands)
        power = rng.randrange(low, high + 1, 5) if high else None
        model = (
            f"{brand[:2]}{rng.randint(100, 99999)}-{rng.choice(['MT', 'HL4', 'SBP', 'KTL', 'EU'])}{rng.randint(1, 99)}"
        )
        title = f"{word} {brand} {model}" + (f" {power}W" if power else "")
        payload = {"distributor": "synthetic", "category": category, "manufacturer": brand, "model": model,
                   "power_w": power, "price_brl": round(rng.uniform(300, 40000), 2), "certified": False,
                   "match_confidence": None, "source_url": None, "snapshot_date": "2026-12-01"}  # fmt: skip
        documents.append(Document("product", f"synthetic:{i}", title, title, payload))
    return documents


def run(synthetic_points: int = 20_000) -> dict[str, Any]:
    spec = json.loads(QUERIES.read_text(encoding="utf-8"))
    queries = spec["queries"]
    started = time.perf_counter()
    documents = bundled_documents()
    print(f"{len(documents)} bundled documents built in {time.perf_counter() - started:.1f} s "
          f"({sum(d.kind == 'product' for d in documents)} products, {sum(d.kind == 'kit' for d in documents)} kits, "
          f"{sum(d.kind == 'spec' for d in documents)} datasheet models)")  # fmt: skip
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        index = SearchIndex(path=str(Path(folder) / "bundled"))  # Qdrant Edge, as the local profile runs it
        sync = index.sync(documents)
        report["build_points_per_second"] = len(documents) / sync.seconds
        print(f"index build: {len(documents)} points in {sync.seconds:.1f} s = "
              f"{report['build_points_per_second']:.0f} points/s (embedding {sync.embed_seconds:.1f} s)")  # fmt: skip
        again = index.sync(documents)
        print(f"re-run with nothing changed: {again.embedded} embedded, {again.unchanged} unchanged, "
              f"{again.seconds:.2f} s")  # fmt: skip
        print(f"\n{'split':8} {'mode':7} {'queries':>7} {'recall@5':>9} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7}")
        for split in ("dev", "heldout", "all"):
            chosen = [q for q in queries if split == "all" or q["split"] == split]
            for mode in MODES:
                result = evaluate(index, chosen, mode)
                report[f"{split}/{mode}"] = result
                print(f"{split:8} {mode:7} {len(chosen):7} {result['recall_at_5']:9.3f} {result['mrr']:6.3f} "
                      f"{result['p50_ms']:7.1f} {result['p95_ms']:7.1f}")  # fmt: skip
        for split in ("dev", "heldout"):
            missed = report[f"{split}/hybrid"]["missed"]
            if missed:
                print(f"hybrid misses ({split}): {'; '.join(missed)}")
        synthetic = synthetic_documents(synthetic_points) + documents
        for engine in ("edge", "qdrant-local"):
            big = SearchIndex(path=str(Path(folder) / f"synthetic-{engine}"), local_engine=engine)
            sync = big.sync(synthetic)
            report[f"{engine}/synthetic_build_points_per_second"] = len(synthetic) / sync.seconds
            result = evaluate(big, queries, "hybrid")
            report[f"{engine}/synthetic/hybrid"] = result
            print(f"\n{engine} at {len(synthetic)} points: build {len(synthetic) / sync.seconds:.0f} points/s "
                  f"(embedding {sync.embed_seconds:.0f} s); hybrid recall@5 {result['recall_at_5']:.3f}, "
                  f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms per query")  # fmt: skip
    return report
