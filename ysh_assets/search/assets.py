"""search/vector_index: products, kits and datasheet models in one hybrid Qdrant index, kept in step with
their sources by content hash, with its checks evaluated in the same step (local mode allows one process)."""

import re
from pathlib import Path

import dagster as dg
import polars as pl

from ysh_assets.catalog.assets import CERTIFICATION_LINKS, KIT_COMPONENTS, PRODUCTS, SOLAR_KITS
from ysh_assets.datasheets.assets import ENRICHED_PDFS
from ysh_assets.search.documents import Document, kit_documents, product_documents, spec_documents
from ysh_assets.search.index import SearchIndex
from ysh_assets.search.sparse import is_model_code
from ysh_assets.warehouse.sql import Warehouse

VECTOR_INDEX = dg.AssetKey(["search", "vector_index"])
CANARIES = 20  # products and datasheet models whose own model number must find them in the top 3
_QUERIES = {
    name: body.strip()
    for name, body in re.findall(
        r"-- name: (\w+)\n(.*?)(?=\n-- name:|\Z)", Path(__file__).with_name("sources.sql").read_text(), re.S
    )
}
CHECKS = [
    dg.AssetCheckSpec(
        "vectors_have_model_dimension",
        asset=VECTOR_INDEX,
        description="Every point has a dense vector of the embedding model's dimension and a sparse vector.",
    ),
    dg.AssetCheckSpec(
        "point_count_matches_sources",
        asset=VECTOR_INDEX,
        description="As many points as source rows: latest products per distributor, kits, datasheet models.",
    ),
    dg.AssetCheckSpec(
        "canary_queries_find_their_rows",
        asset=VECTOR_INDEX,
        description="A product's or datasheet model's own model number finds it in the top 3 (models printed "
        "once in the index).",
    ),
]


def _frame(warehouse: Warehouse, name: str) -> pl.DataFrame:
    return warehouse.query(_QUERIES[name].rstrip(";"))


def source_documents(warehouse: Warehouse) -> list[Document]:
    return (
        product_documents(_frame(warehouse, "products"))
        + kit_documents(_frame(warehouse, "kits"), _frame(warehouse, "kit_components"))
        + spec_documents(_frame(warehouse, "specs"))
    )


@dg.asset(
    key=VECTOR_INDEX,
    deps=[PRODUCTS, SOLAR_KITS, KIT_COMPONENTS, CERTIFICATION_LINKS, ENRICHED_PDFS],
    group_name="search",
    kinds={"qdrant"},
    owners=["team:data-platform"],
    check_specs=CHECKS,
    description="Hybrid (dense + lexical) Qdrant index of the catalog and the datasheet specs.",
)
def vector_index(context: dg.AssetExecutionContext, warehouse: Warehouse, search_index: SearchIndex):
    """Re-embeds only documents whose content changed, deletes points whose source is gone, moves the alias."""
    documents = source_documents(warehouse)
    report = search_index.sync(documents, log=context.log)
    with search_index.client() as client:
        checks = [
            _dimension_check(search_index, client),
            _count_check(search_index, client, len(documents)),
            _canary_check(search_index, client, documents),
        ]
    return dg.MaterializeResult(
        metadata={
            "collection": report.collection,
            "alias": search_index.alias,
            "location": search_index.location(),
            "embedding_model": search_index.encoder.name,
            "dimension": search_index.encoder.dimension,
            "points": len(documents),
            "by_kind": dg.MetadataValue.json(
                {k: sum(d.kind == k for d in documents) for k in ("product", "kit", "spec")}
            ),
            "embedded": report.embedded,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "deleted": report.deleted,
            "embed_seconds": round(report.embed_seconds, 2),
            "seconds": round(report.seconds, 2),
            "dagster/row_count": len(documents),
        },
        check_results=checks,
    )


def _dimension_check(index: SearchIndex, backend) -> dg.AssetCheckResult:
    records = list(backend.scroll(index.collection, fields=[], vectors=True))
    wrong = [r.id for r in records if r.dense_size != index.encoder.dimension or not r.has_sparse]
    return dg.AssetCheckResult(
        check_name="vectors_have_model_dimension",
        passed=not wrong,
        metadata={"points_checked": len(records), "wrong": len(wrong), "examples": dg.MetadataValue.json(wrong[:10])},
    )


def _count_check(index: SearchIndex, backend, expected: int) -> dg.AssetCheckResult:
    count = backend.count(index.collection)
    return dg.AssetCheckResult(
        check_name="point_count_matches_sources",
        passed=count == expected,
        metadata={"points": count, "source_rows": expected},
    )


def canaries(documents: list[Document], size: int = CANARIES) -> list[Document]:
    """Documents whose model number is a code printed on no other document: their own number must find them."""
    counts: dict[str, int] = {}
    for document in documents:
        model = (document.payload.get("model") or "").upper()
        counts[model] = counts.get(model, 0) + 1
    unique = [d for d in documents if is_model_code(d.payload.get("model") or "")
              and counts[(d.payload["model"]).upper()] == 1]  # fmt: skip
    step = max(1, len(unique) // size)
    return unique[::step][:size]


def _canary_check(index: SearchIndex, client, documents: list[Document]) -> dg.AssetCheckResult:
    chosen = canaries(documents)
    missed = []
    for document in chosen:
        hits = index.search(document.payload["model"], limit=3, client=client)
        if document.key not in [h.payload.get("key") for h in hits]:
            missed.append(document.payload["model"])
    return dg.AssetCheckResult(
        check_name="canary_queries_find_their_rows",
        passed=not missed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"canaries": len(chosen), "missed": dg.MetadataValue.json(missed)},
    )
