"""The one Dagster code location: every domain's definitions merged, resources from YSH_PROFILE."""

import dagster as dg

from ysh_assets import automation
from ysh_assets.aneel import definitions as aneel
from ysh_assets.datasheets import definitions as datasheets
from ysh_assets.resources import build_resources, with_storage_kind
from ysh_assets.settings import Settings

settings = Settings.from_env()

# DuckDB allows one writing process per file, so the local profile runs each run's steps in one process.
executor = dg.in_process_executor if settings.profile == "local" else dg.multiprocess_executor

defs = dg.Definitions.merge(
    aneel.defs,
    datasheets.defs,
    automation.defs,
    dg.Definitions(resources=build_resources(settings), executor=executor),
).map_asset_specs(func=lambda spec: with_storage_kind(spec, settings.profile))
