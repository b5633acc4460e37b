"""Freshness policies: when each asset is expected to have been materialized, matching what launches it.

The policies are named constants so the assets written elsewhere (audit, ops) can take theirs with
`freshness_policy=`; the others are attached in one place, `with_freshness`, mapped over the merged definitions:
one table reads against the schedules in `ysh_assets.automation`, and an asset missing from it fails
`ysh_assets_tests/ops/test_freshness.py` rather than going unwatched.
"""

from datetime import timedelta

import dagster as dg

from ysh_assets.calendar import TIMEZONE

# `daily_full_ingestion` starts the snapshot at 02:00: today's catalog and raw files are due by 06:00.
DAILY_BY_6AM = dg.FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=4), timezone=TIMEZONE
)
# What follows the snapshot the same morning (tariffs in force today) and the catalog of the day (03:00).
DAILY_BY_7AM = dg.FreshnessPolicy.cron(
    deadline_cron="0 7 * * *", lower_bound_delta=timedelta(hours=5), timezone=TIMEZONE
)
# The daily report is launched at 07:00 (`automation.AFTER_DAILY_CHAIN`), once the chain is over.
DAILY_REPORT_BY_8AM = dg.FreshnessPolicy.cron(
    deadline_cron="0 8 * * *", lower_bound_delta=timedelta(hours=1), timezone=TIMEZONE
)
# The certification lists: `certifications_weekly` runs on Mondays at 02:30.
WEEKLY_BY_MONDAY_6AM = dg.FreshnessPolicy.cron(
    deadline_cron="0 6 * * 1", lower_bound_delta=timedelta(days=7), timezone=TIMEZONE
)
# Loads from a published file (generation units, tariffs, the change log after them) run only when the file's
# content changed, so a daily deadline would fail on every day ANEEL publishes nothing: a week without a new
# file is what deserves a look.
WEEKLY = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=7), warn_window=timedelta(days=3))
# The search index follows its sources (the daily catalog at the least), incrementally.
DAILY_WINDOW = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=24))
# Datasheets arrive when someone uploads a PDF (or the extractor changes): no cadence to promise, but a month
# without any is an intake that broke or was forgotten.
EVENT_DRIVEN = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=30), warn_window=timedelta(days=14))

POLICIES: dict[dg.AssetKey, dg.FreshnessPolicy] = {
    dg.AssetKey(["aneel", "datasets"]): DAILY_BY_6AM,
    dg.AssetKey(["aneel", "gd_units_raw"]): DAILY_BY_6AM,
    dg.AssetKey(["aneel", "tariffs_raw"]): DAILY_BY_6AM,
    dg.AssetKey(["aneel", "generation_units"]): WEEKLY,
    dg.AssetKey(["aneel", "tariffs"]): WEEKLY,
    dg.AssetKey(["aneel", "tariffs_current"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "products"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "solar_kits"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "kit_components"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "price_changes"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "certification_links"]): DAILY_BY_7AM,
    dg.AssetKey(["catalog", "certifications"]): WEEKLY_BY_MONDAY_6AM,
    dg.AssetKey(["datasheets", "pdf_documents"]): EVENT_DRIVEN,
    dg.AssetKey(["datasheets", "enriched_pdfs"]): EVENT_DRIVEN,
    dg.AssetKey(["search", "vector_index"]): DAILY_WINDOW,
    dg.AssetKey(["audit", "gd_changes"]): WEEKLY,
    dg.AssetKey(["ops", "daily_report"]): DAILY_REPORT_BY_8AM,
}


def with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with its policy from `POLICIES`; a policy given on the asset's own decorator is kept."""
    policy = POLICIES.get(spec.key)
    return dg.apply_freshness_policy(spec, policy, overwrite_existing=False) if policy else spec
