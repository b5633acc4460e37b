"""The new-catalog-file sensor: a file dropped (or replaced) under `catalogs/<distributor>/` starts that
distributor's catalog run for the day it belongs to: its dated folder's day (`catalogs/<d>/<YYYY-MM-DD>/`),
else today. Several files of one distributor and day in one tick make one run.
"""

import dagster as dg

from ysh_assets.calendar import today_in_brazil
from ysh_assets.catalog.assets import CATALOG_DAYS
from ysh_assets.catalog.distributors import DISTRIBUTORS
from ysh_assets.catalog.sources import CATALOG_PREFIX, drop_of
from ysh_assets.io_managers.object_store import ObjectInfo, ObjectStore
from ysh_assets.object_cursor import SensorCursor, fingerprint, may_be_incomplete, modified, settled_before


def catalog_partition(info: ObjectInfo) -> dg.MultiPartitionKey | None:
    """The (day, distributor) partition a dropped file belongs to; None outside a distributor's folder (names
    as registered, lower case), outside the layout `CatalogSource` reads, or in a dated folder that is not a day
    of the partitions (`2026-02-30`, a day before they start or after tomorrow): such a file is skipped with a
    warning, never a failing tick."""
    drop = drop_of(info.key)
    if drop is None or drop[0] not in DISTRIBUTORS:
        return None
    distributor, day = drop[0], drop[1] or today_in_brazil().isoformat()
    if not CATALOG_DAYS.has_partition_key(day):
        return None
    return dg.MultiPartitionKey({"day": day, "distributor": distributor})


def build_new_catalog_file_sensor(job) -> dg.SensorDefinition:
    """The sensor targeting `job` (catalog_daily_job)."""

    @dg.sensor(
        name="new_catalog_file_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New or replaced files under {CATALOG_PREFIX}<distributor>/ -> that distributor's day.",
    )
    def new_catalog_file_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore) -> dg.SensorResult:
        cursor = SensorCursor.resume(context.cursor, context.log, "rescanning (a re-run of a day is idempotent)")
        settled = settled_before()
        changed: dict[str, list[str]] = {}
        for info in sorted(object_store.list_objects(CATALOG_PREFIX), key=lambda i: (modified(i), i.key)):
            if not cursor.is_new(info):
                continue
            if may_be_incomplete(object_store, info, settled):
                break
            cursor.handled(info)
            partition = catalog_partition(info)
            if partition is None:
                context.log.warning(
                    f"skipped {info.key}: not {CATALOG_PREFIX}<one of {', '.join(DISTRIBUTORS)}>/"
                    "[<partition day>/]<file>"
                )
                continue
            changed.setdefault(str(partition), []).append(fingerprint(info))
        requests = [
            dg.RunRequest(
                run_key=f"{key}@{'|'.join(sorted(prints))}",
                partition_key=key,
            )
            for key, prints in sorted(changed.items())
        ]
        return dg.SensorResult(run_requests=requests, cursor=cursor.dump())

    return new_catalog_file_sensor
