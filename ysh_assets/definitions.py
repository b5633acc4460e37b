"""The one Dagster code location: every domain's definitions merged, resources from YSH_PROFILE."""

import dagster as dg

from ysh_assets import automation
from ysh_assets.aneel import definitions as aneel
from ysh_assets.audit import definitions as audit
from ysh_assets.catalog import definitions as catalog
from ysh_assets.datasheets import definitions as datasheets
from ysh_assets.freshness import with_freshness
from ysh_assets.ops import alert_sensors as ops_alerts
from ysh_assets.ops import report as ops_report
from ysh_assets.resources import build_resources, with_storage_kind
from ysh_assets.search import definitions as search
from ysh_assets.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions.merge(
    aneel.defs,
    audit.defs,
    catalog.defs,
    datasheets.defs,
    search.defs,
    automation.defs,
    ops_alerts.defs,
    ops_report.defs,
    automation.report_defs,
    # Every run's steps in its run worker's process: the worker is already a process of its own, a subprocess
    # per step costs seconds of start-up each, and the runs here are chains of heavy steps that two cores would
    # not overlap anyway (DuckDB, in the local profile, allows one writing process per file besides).
    dg.Definitions(resources=build_resources(settings), executor=dg.in_process_executor),
).map_asset_specs(
    func=lambda spec: automation.with_automation(with_freshness(with_storage_kind(spec, settings.profile)))
)
