"""The new-PDF sensor: every new PDF under the object store's `incoming/` prefix becomes a dynamic partition
(named by its content sha256) of the datasheet assets and one `pdf_processing` run.

Identity is the content, not the name: a re-upload of the same bytes under another name adds nothing. The
cursor (`object_cursor.SensorCursor`) remembers the objects already handled. Listings of thousands of objects
are paginated by the store. One bad object never stops the sensor: it is retried on the next ticks, then
skipped with a logged reason. Hashing stops after a time budget per tick; the rest waits for the next one.
"""

import time

import dagster as dg

from ysh_assets.io_managers.object_store import ObjectStore, sha256_of_stream
from ysh_assets.object_cursor import SensorCursor, may_be_incomplete, modified, settled_before

INCOMING_PREFIX = "incoming/"
PDF_PARTITIONS = dg.DynamicPartitionsDefinition(name="datasheet_pdfs")
OBJECT_KEY_TAG = "ysh/object_key"
MAX_NEW_PER_TICK = 100  # objects hashed per evaluation
TIME_BUDGET_SECONDS = 30.0  # of hashing per evaluation (Dagster gives a sensor tick about a minute)
MAX_ATTEMPTS = 3


def content_sha256(store: ObjectStore, key: str) -> str:
    """Streams the object through sha256 (bounded memory, whatever its size)."""
    with store.open(key) as handle:
        return sha256_of_stream(handle)[0]


def scan_incoming(
    store: ObjectStore, cursor: SensorCursor, known: set[str], log
) -> tuple[list[tuple[str, str]], SensorCursor]:
    """New PDFs after the cursor as (sha256, key), within this tick's budget; returns the new cursor."""
    pending = sorted(
        (info for info in store.list_objects(INCOMING_PREFIX) if cursor.is_new(info)),
        key=lambda info: (modified(info), info.key),
    )
    found: list[tuple[str, str]] = []
    started, hashed = time.monotonic(), 0
    settled = settled_before()
    for info in pending:
        if not info.key.lower().endswith(".pdf"):
            log.info(f"skipped {info.key}: not a .pdf object")
            cursor.handled(info)
            continue
        if may_be_incomplete(store, info, settled):
            break
        if hashed >= MAX_NEW_PER_TICK or time.monotonic() - started > TIME_BUDGET_SECONDS:
            break
        hashed += 1
        try:
            sha256 = content_sha256(store, info.key)
        except Exception as error:  # one unreadable object must not stop the sensor
            attempts = cursor.failures.get(info.key, 0) + 1
            if attempts < MAX_ATTEMPTS:
                cursor.failures[info.key] = attempts
                log.warning(f"could not read {info.key} (attempt {attempts}/{MAX_ATTEMPTS}): {error}")
                continue
            log.error(f"skipped {info.key} after {attempts} failed reads: {error}")
            cursor.handled(info)
            continue
        cursor.handled(info)
        if sha256 in known:
            log.info(f"skipped {info.key}: same content as an earlier PDF ({sha256[:12]})")
            continue
        known.add(sha256)
        found.append((sha256, info.key))
    return found, cursor


def build_new_pdf_sensor(job) -> dg.SensorDefinition:
    """The sensor targeting `job` (the pdf_processing asset job)."""

    @dg.sensor(
        name="new_pdf_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New PDFs under {INCOMING_PREFIX} -> one datasheet partition and run each.",
    )
    def new_pdf_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore) -> dg.SensorResult:
        known = set(context.instance.get_dynamic_partitions(PDF_PARTITIONS.name))
        cursor = SensorCursor.resume(
            context.cursor, context.log, "rescanning incoming/ (already known PDFs are skipped)"
        )
        found, cursor = scan_incoming(object_store, cursor, known, context.log)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=sha256, partition_key=sha256, tags={OBJECT_KEY_TAG: key}) for sha256, key in found
            ],
            dynamic_partitions_requests=[PDF_PARTITIONS.build_add_request([sha for sha, _ in found])] if found else [],
            cursor=cursor.dump(),
        )

    return new_pdf_sensor
