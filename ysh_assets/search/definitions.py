"""The search domain: one hybrid Qdrant index over the catalog and the datasheet specs."""

import dagster as dg

from ysh_assets.search.assets import vector_index

search_index_job = dg.define_asset_job(
    "search_index_job",
    selection=dg.AssetSelection.assets(vector_index),
    description="Bring the search index in step with the catalog and the datasheets (only changed rows re-embed).",
)

defs = dg.Definitions(assets=[vector_index], jobs=[search_index_job])
