"""The catalog domain: distributor products and kits per day, their price changes, the certification lists
and the links between products and certifications."""

from zoneinfo import ZoneInfo

import dagster as dg

from ysh_assets.calendar import TIMEZONE
from ysh_assets.catalog.assets import (
    CATALOG_PARTITIONS,
    CERTIFICATIONS,
    EQUIPMENT_PARTITIONS,
    catalog_price_changes,
    catalog_snapshot,
    certification_links,
    certifications,
)
from ysh_assets.catalog.checks import catalog_checks
from ysh_assets.catalog.distributors import DISTRIBUTORS
from ysh_assets.catalog.sensors import build_new_catalog_file_sensor

catalog_daily_job = dg.define_asset_job(
    "catalog_daily_job",
    selection=dg.AssetSelection.assets(catalog_snapshot, catalog_price_changes, certification_links),
    partitions_def=CATALOG_PARTITIONS,
    description="One distributor's day: its files read into products and kits, price changes, certification links.",
)
catalog_certifications_job = dg.define_asset_job(
    "catalog_certifications_job",
    selection=dg.AssetSelection.assets(CERTIFICATIONS),
    partitions_def=EQUIPMENT_PARTITIONS,
    description="The certification lists of one equipment type (module, inverter).",
)


@dg.schedule(
    name="catalog_daily",
    job=catalog_daily_job,
    cron_schedule="0 3 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def catalog_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Every distributor's snapshot of the day, beside the ANEEL chain (its files need nothing from it)."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
    return [
        dg.RunRequest(run_key=f"catalog-{day}-{d}", partition_key=dg.MultiPartitionKey({"day": day, "distributor": d}))
        for d in DISTRIBUTORS
    ]


@dg.schedule(
    name="certifications_weekly",
    job=catalog_certifications_job,
    cron_schedule="30 2 * * 1",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def certifications_weekly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """The certification lists change rarely (new INMETRO exports are dropped under certifications/)."""
    week = context.scheduled_execution_time.date().isoformat()
    return [
        dg.RunRequest(run_key=f"certifications-{week}-{t}", partition_key=t)
        for t in EQUIPMENT_PARTITIONS.get_partition_keys()
    ]


defs = dg.Definitions(
    assets=[catalog_snapshot, catalog_price_changes, certifications, certification_links],
    asset_checks=catalog_checks,
    jobs=[catalog_daily_job, catalog_certifications_job],
    schedules=[catalog_daily, certifications_weekly],
    sensors=[build_new_catalog_file_sensor(catalog_daily_job)],
)
