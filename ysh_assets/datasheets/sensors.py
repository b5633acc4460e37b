"""The new-PDF sensor: every new PDF under the object store's `incoming/` prefix becomes a dynamic partition
(named by its content sha256) of the datasheet assets and one `pdf_processing` run.

Identity is the content, not the name: a re-upload of the same bytes under another name adds nothing. The
cursor is the (last_modified, key) position of the last object handled, so listings of thousands of objects
(paginated by the store) resume where they stopped, whatever the key order of new uploads. One bad object
never stops the sensor: it is retried on the next ticks, then skipped with a logged reason.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from ysh_assets.io_managers.object_store import ObjectInfo, ObjectStore

INCOMING_PREFIX = "incoming/"
PDF_PARTITIONS = dg.DynamicPartitionsDefinition(name="datasheet_pdfs")
OBJECT_KEY_TAG = "ysh/object_key"
MAX_NEW_PER_TICK = 100  # objects hashed per evaluation; the rest wait for the next tick
MAX_ATTEMPTS = 3


@dataclass
class SensorCursor:
    """Position after the last handled object: its modification time, and every key handled at exactly
    that time (S3 times have one-second resolution, so several uploads can share one)."""

    last_modified: str = ""
    keys: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "SensorCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    def is_after(self, info: ObjectInfo) -> bool:
        modified = _modified(info)
        return modified > self.last_modified or (modified == self.last_modified and info.key not in self.keys)

    def advance(self, info: ObjectInfo) -> None:
        modified = _modified(info)
        if modified > self.last_modified:
            self.last_modified, self.keys = modified, []
        self.keys.append(info.key)
        self.failures.pop(info.key, None)


def _modified(info: ObjectInfo) -> str:
    moment = info.last_modified or datetime.fromtimestamp(0, UTC)
    return moment.astimezone(UTC).isoformat()


def content_sha256(store: ObjectStore, key: str) -> str:
    """Streams the object through sha256 (bounded memory, whatever its size)."""
    digest = hashlib.sha256()
    with store.open(key) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def scan_incoming(
    store: ObjectStore, cursor: SensorCursor, known: set[str], log
) -> tuple[list[tuple[str, str]], SensorCursor]:
    """New PDFs after the cursor as (sha256, key), at most MAX_NEW_PER_TICK hashed; returns the new cursor."""
    pending = sorted(
        (info for info in store.list_objects(INCOMING_PREFIX) if cursor.is_after(info)),
        key=lambda info: (_modified(info), info.key),
    )
    found: list[tuple[str, str]] = []
    hashed = 0
    for info in pending:
        if not info.key.lower().endswith(".pdf"):
            log.info(f"skipped {info.key}: not a .pdf object")
            cursor.advance(info)
            continue
        if hashed >= MAX_NEW_PER_TICK:
            break
        hashed += 1
        try:
            sha256 = content_sha256(store, info.key)
        except Exception as error:  # one unreadable object must not stop the sensor
            attempts = cursor.failures.get(info.key, 0) + 1
            if attempts < MAX_ATTEMPTS:
                cursor.failures[info.key] = attempts
                log.warning(f"could not read {info.key} (attempt {attempts}/{MAX_ATTEMPTS}): {error}")
                break
            log.error(f"skipped {info.key} after {attempts} failed reads: {error}")
            cursor.advance(info)
            continue
        cursor.advance(info)
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
        found, cursor = scan_incoming(object_store, SensorCursor.parse(context.cursor), known, context.log)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=sha256, partition_key=sha256, tags={OBJECT_KEY_TAG: key}) for sha256, key in found
            ],
            dynamic_partitions_requests=[PDF_PARTITIONS.build_add_request([sha for sha, _ in found])] if found else [],
            cursor=cursor.dump(),
        )

    return new_pdf_sensor
