"""The new-catalog-file sensor: a file dropped (or replaced) under `catalogs/<distributor>/` starts that
distributor's catalog run for the day it belongs to: its dated folder's day (`catalogs/<d>/<YYYY-MM-DD>/`),
else today. Several files of one distributor and day in one tick make one run.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

import dagster as dg

from ysh_assets.calendar import today_in_brazil
from ysh_assets.catalog.assets import CATALOG_DAYS
from ysh_assets.catalog.distributors import DISTRIBUTORS
from ysh_assets.catalog.sources import CATALOG_PREFIX
from ysh_assets.io_managers.object_store import ObjectInfo, ObjectStore
from ysh_assets.object_cursor import SensorCursor, fingerprint, modified

SETTLE_SECONDS = 5.0  # a local file younger than this may still be being copied in
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def catalog_partition(info: ObjectInfo) -> dg.MultiPartitionKey | None:
    """The (day, distributor) partition a dropped file belongs to; None outside a distributor's folder (names
    as registered, lower case) or in a dated folder that is not a day of the partitions (`2026-02-30`, a day
    before they start or after tomorrow): such a file is skipped with a warning, never a failing tick."""
    parts = PurePosixPath(info.key[len(CATALOG_PREFIX) :]).parts
    if len(parts) < 2 or parts[0] not in DISTRIBUTORS:
        return None
    day = parts[1] if len(parts) == 3 and _DAY.match(parts[1]) else today_in_brazil().isoformat()
    if not CATALOG_DAYS.has_partition_key(day):
        return None
    return dg.MultiPartitionKey({"day": day, "distributor": parts[0]})


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
        try:
            cursor = SensorCursor.parse(context.cursor)
        except (ValueError, TypeError):  # an older cursor format: rescan (a re-run of a day is idempotent)
            cursor = SensorCursor()
        settled_before = datetime.now(UTC) - timedelta(seconds=SETTLE_SECONDS)
        changed: dict[str, list[str]] = {}
        for info in sorted(object_store.list_objects(CATALOG_PREFIX), key=lambda i: (modified(i), i.key)):
            if not cursor.is_new(info):
                continue
            if not object_store.objects_appear_whole and modified(info) > settled_before:
                break  # S3 objects appear whole; a local file may still be being written
            cursor.handled(info)
            partition = catalog_partition(info)
            if partition is None:
                context.log.warning(
                    f"skipped {info.key}: not under {CATALOG_PREFIX}<one of {', '.join(DISTRIBUTORS)}>/"
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
