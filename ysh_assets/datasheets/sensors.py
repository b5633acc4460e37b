"""The new-PDF sensor: every new PDF under the object store's `incoming/` prefix becomes a dynamic partition
(named by its content sha256) of the datasheet assets and one `pdf_processing` run.

Identity is the content, not the name: a re-upload of the same bytes under another name adds nothing. The
cursor is a watermark (the newest modification time handled) plus the fingerprints of the objects handled
within a look-back window before it: S3 stamps a multipart upload with the time it started, so an object
can appear with a time older than objects already seen. Listings of thousands of objects are paginated
by the store. One bad object never stops the sensor: it is retried on the next ticks, then skipped with a
logged reason. Hashing stops after a time budget per tick; the rest waits for the next one.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg

from ysh_assets.io_managers.object_store import ObjectInfo, ObjectStore, sha256_of_stream

INCOMING_PREFIX = "incoming/"
PDF_PARTITIONS = dg.DynamicPartitionsDefinition(name="datasheet_pdfs")
OBJECT_KEY_TAG = "ysh/object_key"
MAX_NEW_PER_TICK = 100  # objects hashed per evaluation
TIME_BUDGET_SECONDS = 30.0  # of hashing per evaluation (Dagster gives a sensor tick about a minute)
LOOKBACK = timedelta(hours=1)  # how late an object may show up with an older time, and still be seen
SETTLE_SECONDS = 5.0  # a local file younger than this may still be being copied in
MAX_ATTEMPTS = 3


def _modified(info: ObjectInfo) -> datetime:
    return (info.last_modified or datetime.fromtimestamp(0, UTC)).astimezone(UTC)


def _fingerprint(info: ObjectInfo) -> str:
    return f"{_modified(info).isoformat()}|{info.size}|{info.etag or ''}"


@dataclass
class SensorCursor:
    watermark: str = ""  # ISO time of the newest object handled
    recent: dict[str, str] = field(default_factory=dict)  # key -> fingerprint, handled within LOOKBACK of it
    failures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "SensorCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    def _horizon(self) -> datetime | None:
        return datetime.fromisoformat(self.watermark) - LOOKBACK if self.watermark else None

    def is_new(self, info: ObjectInfo) -> bool:
        horizon = self._horizon()
        if horizon is not None and _modified(info) < horizon:
            return False
        return self.recent.get(info.key) != _fingerprint(info)

    def handled(self, info: ObjectInfo) -> None:
        self.recent[info.key] = _fingerprint(info)
        self.watermark = max(self.watermark, _modified(info).isoformat())
        self.failures.pop(info.key, None)
        horizon = self._horizon()
        if horizon is not None:
            self.recent = {
                key: fp for key, fp in self.recent.items() if datetime.fromisoformat(fp.split("|")[0]) >= horizon
            }


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
        key=lambda info: (_modified(info), info.key),
    )
    found: list[tuple[str, str]] = []
    started, hashed = time.monotonic(), 0
    settled_before = datetime.now(UTC) - timedelta(seconds=SETTLE_SECONDS)
    for info in pending:
        if not info.key.lower().endswith(".pdf"):
            log.info(f"skipped {info.key}: not a .pdf object")
            cursor.handled(info)
            continue
        if not store.objects_appear_whole and _modified(info) > settled_before:
            break  # S3 objects appear whole; a local file may still be being written
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
        try:
            cursor = SensorCursor.parse(context.cursor)
        except (ValueError, TypeError):  # an older cursor format: rescan; content identity prevents duplicates
            context.log.warning("unreadable sensor cursor; rescanning incoming/ (already known PDFs are skipped)")
            cursor = SensorCursor()
        found, cursor = scan_incoming(object_store, cursor, known, context.log)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=sha256, partition_key=sha256, tags={OBJECT_KEY_TAG: key}) for sha256, key in found
            ],
            dynamic_partitions_requests=[PDF_PARTITIONS.build_add_request([sha for sha, _ in found])] if found else [],
            cursor=cursor.dump(),
        )

    return new_pdf_sensor
