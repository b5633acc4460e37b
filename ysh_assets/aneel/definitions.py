"""The ANEEL domain: assets and their checks."""

import dagster as dg

from ysh_assets.aneel.assets import datasets, gd_units_raw, generation_units, tariffs, tariffs_current, tariffs_raw
from ysh_assets.aneel.checks import tariffs_checks

defs = dg.Definitions(
    assets=[datasets, gd_units_raw, tariffs_raw, generation_units, tariffs, tariffs_current],
    asset_checks=tariffs_checks,
)
