"""Profiles -> resources. Asset code never branches on the profile; it only names IO manager keys.

IO manager keys: `io_manager` / `warehouse_io_manager` (tables), `object_store_io_manager` (raw files and
parquet), `hot_cache_io_manager` (small lookups: Redis in front of the warehouse in `services`, the
warehouse itself in `local`). Resources: `warehouse` (SQL for quarantine rows and checks), `object_store`,
`aneel_portal`, `catalog_source` (distributor files), `search_index` (Qdrant), `ollama` (optional: without it
datasheets are extracted rules-only, and say so).
Values that may hold a password (DSN, Redis URL) are passed as `dg.EnvVar` when set, so the Dagster UI
shows the variable name, never the secret.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from ysh_assets.aneel.portal import AneelPortal
from ysh_assets.catalog.sources import CatalogSource
from ysh_assets.datasheets.enrich import OllamaResource
from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.frames import STORAGE
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.io_managers.redis_cache import RedisCacheIOManager
from ysh_assets.ops.alerts import alert_channels_for
from ysh_assets.ops.quotas import guard_options
from ysh_assets.search.index import SearchIndex
from ysh_assets.settings import Settings, secret_setting
from ysh_assets.warehouse.sql import Warehouse

# The Dagster kind of each storage role, per profile.
STORAGE_KINDS = {
    "services": {"warehouse": "postgres", "objects": "s3", "hot_cache": "redis"},
    "local": {"warehouse": "duckdb", "objects": "file", "hot_cache": "duckdb"},
}


def with_storage_kind(spec: dg.AssetSpec, profile: str) -> dg.AssetSpec:
    role = spec.metadata.get(STORAGE)
    return spec.merge_attributes(kinds={STORAGE_KINDS[profile][role]}) if role else spec


def build_resources(settings: Settings) -> dict[str, Any]:
    if settings.profile == "services":
        warehouse: Any = PostgresPolarsIOManager(dsn=secret_setting("YSH_PG_DSN"))
        store = ObjectStore(root=settings.object_store_root, endpoint_url=settings.s3_endpoint_url)
        hot: Any = RedisCacheIOManager(url=secret_setting("YSH_REDIS_URL"), warehouse=warehouse)
        sql = Warehouse(dsn=secret_setting("YSH_PG_DSN"))
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        warehouse = DuckDBPolarsWarehouseIOManager(database=str(settings.duckdb_path))
        store = ObjectStore(root=settings.object_store_root)
        hot = warehouse
        sql = Warehouse(duckdb_path=str(settings.duckdb_path))
    guards = guard_options(settings)
    return {
        "io_manager": warehouse,
        "warehouse_io_manager": warehouse,
        "hot_cache_io_manager": hot,
        "object_store": store,
        "object_store_io_manager": ObjectStoreIOManager(store=store, ingestion_log=sql),
        "warehouse": sql,
        "aneel_portal": AneelPortal(
            base_url=settings.ckan_url, sources=settings.sources, mirrors=list(settings.ckan_mirrors), **guards
        ),
        "catalog_source": CatalogSource(
            object_store=store, bundled=settings.sources == "bundled", urls=settings.catalog_urls, **guards
        ),
        "ollama": OllamaResource(base_url=secret_setting("YSH_OLLAMA_URL"), model=settings.ollama_model, **guards),
        "search_index": search_index_for(settings),
        "alert_channels": alert_channels_for(settings),
    }


def search_index_for(settings: Settings) -> SearchIndex:
    """The Qdrant server at YSH_QDRANT_URL; else a folder of the data directory: Qdrant Edge in the local
    profile, qdrant-client's local mode (the server's own calls) for a services profile without a server."""
    return SearchIndex(
        url=settings.qdrant_url,
        local_engine="edge" if settings.profile == "local" else "qdrant-local",
        path=str(settings.data_dir / "qdrant"),
        embedding_model=settings.embedding_model,
        ollama_url=settings.ollama_url,
    )
