"""The audit domain: the change log between consecutive GD snapshots."""

import dagster as dg

from ysh_assets.audit.assets import gd_changes

audit_gd_changes_job = dg.define_asset_job(
    "audit_gd_changes_job",
    selection=dg.AssetSelection.assets(gd_changes),
    description="The GD change log, all UFs as one single-run range (after the generation-units load).",
)

defs = dg.Definitions(assets=[gd_changes], jobs=[audit_gd_changes_job])
