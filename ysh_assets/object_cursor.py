"""A sensor cursor over object-store listings: which objects a sensor has already handled.

It is a watermark (the newest modification time handled) plus the fingerprints of the objects handled within a
look-back window before it: S3 stamps a multipart upload with the time it started, so an object can appear with
a time older than objects already seen. Failures count read attempts per key.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ysh_assets.io_managers.object_store import ObjectInfo, ObjectStore

LOOKBACK = timedelta(hours=1)  # how late an object may show up with an older time, and still be seen
SETTLE_SECONDS = 5.0  # a local file younger than this may still be being copied in


def settled_before() -> datetime:
    """Objects modified after this may still be being written (see `may_be_incomplete`)."""
    return datetime.now(UTC) - timedelta(seconds=SETTLE_SECONDS)


def may_be_incomplete(store: ObjectStore, info: ObjectInfo, settled: datetime) -> bool:
    """S3 lists an object only once its upload completed; a local file younger than `settled` may be half copied."""
    return not store.objects_appear_whole and modified(info) > settled


def modified(info: ObjectInfo) -> datetime:
    return (info.last_modified or datetime.fromtimestamp(0, UTC)).astimezone(UTC)


def fingerprint(info: ObjectInfo) -> str:
    return f"{modified(info).isoformat()}|{info.size}|{info.etag or ''}"


@dataclass
class SensorCursor:
    watermark: str = ""  # ISO time of the newest object handled
    recent: dict[str, str] = field(default_factory=dict)  # key -> fingerprint, handled within LOOKBACK of it
    failures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "SensorCursor":
        return cls(**json.loads(raw)) if raw else cls()

    @classmethod
    def resume(cls, raw: str | None, log, rescan: str) -> "SensorCursor":
        """The stored cursor, or a new one (logging `rescan`, why starting over is safe) when it is unreadable."""
        try:
            return cls.parse(raw)
        except (ValueError, TypeError):  # an older cursor format
            log.warning(f"unreadable sensor cursor; {rescan}")
            return cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    def _horizon(self) -> datetime | None:
        return datetime.fromisoformat(self.watermark) - LOOKBACK if self.watermark else None

    def is_new(self, info: ObjectInfo) -> bool:
        horizon = self._horizon()
        if horizon is not None and modified(info) < horizon:
            return False
        return self.recent.get(info.key) != fingerprint(info)

    def handled(self, info: ObjectInfo) -> None:
        self.recent[info.key] = fingerprint(info)
        self.watermark = max(self.watermark, modified(info).isoformat())
        self.failures.pop(info.key, None)
        horizon = self._horizon()
        if horizon is not None:
            self.recent = {
                key: fp for key, fp in self.recent.items() if datetime.fromisoformat(fp.split("|")[0]) >= horizon
            }
