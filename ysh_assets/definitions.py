"""The one Dagster code location: every domain's definitions merged, resources from YSH_PROFILE."""

import dagster as dg

from ysh_assets.resources import build_resources
from ysh_assets.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions(resources=build_resources(settings))
