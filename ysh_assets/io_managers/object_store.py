"""Object store for raw files and parquet: any S3-compatible endpoint, or a local folder, one interface.

Objects are content-addressed (`<asset>/<partition>/<sha256><suffix>`), streamed from and to disk
(never whole in memory), and a partition's `_manifest.json` is written last: a reader either sees the
previous complete object or the new complete object, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

import boto3
import dagster as dg
import polars as pl
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from ysh_assets.io_managers.ingestion import step_started_at, stored_entry
from ysh_assets.settings import ConfigurationError, redact_dsn
from ysh_assets.warehouse.sql import Warehouse

_CHUNK = 1 << 20
# Multipart transfers hold chunk size x concurrency in memory: 8 MB x 2 keeps a GB upload under ~20 MB.
_TRANSFER = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=2)
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._=-]")


def safe_segment(value: str) -> str:
    """One path segment from untrusted text (partition keys, file names): no separators, no `..`.

    A changed value gets a short hash of the original appended, so two different inputs never collide.
    """
    cleaned = _SAFE_SEGMENT.sub("_", value).strip(".") or "_"
    if cleaned != value:
        cleaned = f"{cleaned[:80]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"
    return cleaned


def sha256_of_stream(handle: BinaryIO) -> tuple[str, int]:
    """Hex digest and size of everything left in `handle`, read in bounded chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_of_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        return sha256_of_stream(handle)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime | None = None
    etag: str | None = None


def checked_key(key: str) -> str:
    """Keys are relative POSIX paths: `..`, `.` and absolute keys are refused, so names cannot escape the root."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in ("..", ".") for p in parts):
        raise ValueError(f"object key {key!r} must be a relative path without '.' or '..' segments")
    return key


class ObjectBackend(Protocol):
    """What each storage backend does; `ObjectStore` (the resource) picks one from its root."""

    appears_whole: bool  # a new object is complete as soon as it is listed

    def uri(self, key: str) -> str: ...

    def ensure_ready(self) -> None: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def put_file(self, key: str, path: Path, content_type: str | None) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str | None) -> None: ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def download(self, key: str, path: Path) -> None: ...

    def local_path(self, key: str) -> AbstractContextManager[Path]: ...

    def list_objects(self, prefix: str, start_after: str | None) -> Iterator[ObjectInfo]: ...


class FolderObjects:
    """Objects as files under a folder; writes go to a `.partial-` file renamed into place."""

    appears_whole = False  # a file may still be being copied in

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, key: str) -> Path:
        """The key's file, refused when it or a folder on the way is a symbolic link (a link in `incoming/`
        would otherwise copy a file from anywhere on the host into the store)."""
        path = self.folder / checked_key(key)
        at = self.folder
        for part in PurePosixPath(key).parts:
            at = at / part
            if at.is_symlink():
                raise ValueError(f"object {key!r} is refused: {at} is a symbolic link")
        return path

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def ensure_ready(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        st = path.stat()
        # ctime too: a file moved in keeps its old mtime, but the move updates its ctime.
        return ObjectInfo(key, st.st_size, datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), UTC))

    def _replace(self, key: str, write) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".partial-", delete=False) as tmp:
            write(tmp)
        os.replace(tmp.name, target)

    def put_file(self, key: str, path: Path, content_type: str | None) -> None:
        def copy(tmp: BinaryIO) -> None:
            with path.open("rb") as source:
                shutil.copyfileobj(source, tmp, _CHUNK)

        self._replace(key, copy)

    def put_bytes(self, key: str, data: bytes, content_type: str | None) -> None:
        self._replace(key, lambda tmp: tmp.write(data))

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        with self._path(key).open("rb") as handle:
            yield handle

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        yield self._path(key)  # the file itself

    def list_objects(self, prefix: str, start_after: str | None) -> Iterator[ObjectInfo]:
        folder = self.folder / prefix if prefix else self.folder
        if not folder.exists():
            return
        # symbolic links are not objects (rglob does not descend into linked folders either)
        keys = sorted(
            p.relative_to(self.folder).as_posix()
            for p in folder.rglob("*")
            if not p.is_symlink() and p.is_file() and not p.name.startswith(".partial-")
        )
        for key in keys:
            if start_after is None or key > start_after:
                info = self.stat(key)
                if info:
                    yield info


class S3Objects:
    """Objects in an S3 bucket under a prefix, through any S3-compatible endpoint; multipart streaming."""

    appears_whole = True  # S3 lists an object only once its upload completed

    def __init__(self, bucket: str, prefix: str, client: Any):
        self.bucket, self.prefix, self.client = bucket, prefix, client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{checked_key(key)}" if self.prefix else checked_key(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def ensure_ready(self) -> None:
        """Creates the bucket when missing (MinIO and moto start empty)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, head["ContentLength"], head.get("LastModified"), head.get("ETag", "").strip('"'))

    def put_file(self, key: str, path: Path, content_type: str | None) -> None:
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra, Config=_TRANSFER)

    def put_bytes(self, key: str, data: bytes, content_type: str | None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        try:
            yield body
        finally:
            body.close()

    def download(self, key: str, path: Path) -> None:
        self.client.download_file(self.bucket, self._key(key), str(path), Config=_TRANSFER)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="ysh-object-") as folder:
            path = Path(folder) / safe_segment(PurePosixPath(key).name)
            self.download(key, path)
            yield path

    def list_objects(self, prefix: str, start_after: str | None) -> Iterator[ObjectInfo]:
        strip = f"{self.prefix}/" if self.prefix else ""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": strip + prefix}
        if start_after:
            kwargs["StartAfter"] = strip + start_after
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for item in page.get("Contents", []):
                    key = item["Key"][len(strip) :]
                    yield ObjectInfo(key, item["Size"], item.get("LastModified"), item.get("ETag", "").strip('"'))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchBucket":  # nothing stored yet
                raise


class ObjectStore(dg.ConfigurableResource):
    """An S3 bucket/prefix (`s3://bucket/prefix`, any S3-compatible `endpoint_url`) or a folder (`file:///path`):
    the configured resource, delegating to the backend its root names.

    Keys are relative POSIX paths; `..` and absolute keys are refused, so untrusted names cannot escape
    the root. AWS credentials come from the usual boto3 sources (AWS_ACCESS_KEY_ID, ...).
    """

    root: str = Field(description="s3://bucket/prefix or file:///absolute/folder")
    endpoint_url: str = Field(default="", description="S3-compatible endpoint (MinIO, moto); empty for AWS")
    region: str = Field(default="us-east-1")
    # Bounded so a hung object store fails a sensor tick within Dagster's tick budget instead of stalling it:
    # at most attempts x (connect + read) seconds per request.
    connect_timeout_seconds: float = Field(default=5.0)
    read_timeout_seconds: float = Field(default=10.0)
    max_attempts: int = Field(default=2)

    _backend: Any = PrivateAttr(default=None)

    @property
    def backend(self) -> ObjectBackend:
        if self._backend is None:
            parts = urlsplit(self.root)
            if parts.scheme == "s3":
                client = boto3.client(
                    "s3",
                    endpoint_url=self.endpoint_url or None,
                    region_name=self.region,
                    config=Config(
                        retries={"max_attempts": self.max_attempts, "mode": "standard"},
                        connect_timeout=self.connect_timeout_seconds,
                        read_timeout=self.read_timeout_seconds,
                    ),
                )
                self._backend = S3Objects(parts.netloc, parts.path.strip("/"), client)
            elif parts.scheme == "file":
                self._backend = FolderObjects(Path(unquote(parts.path)))
            else:
                raise ConfigurationError(
                    f"object store root {self.root!r}: expected s3://bucket/prefix or file:///folder"
                )
        return self._backend

    @property
    def objects_appear_whole(self) -> bool:
        return self.backend.appears_whole

    def uri(self, key: str) -> str:
        return self.backend.uri(key)

    def describe(self) -> str:
        where = f" at {redact_dsn(self.endpoint_url)}" if self.endpoint_url else ""
        return f"{self.root}{where}"

    def ensure_ready(self) -> None:
        """Creates the bucket or folder when missing."""
        self.backend.ensure_ready()

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def stat(self, key: str) -> ObjectInfo | None:
        return self.backend.stat(key)

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        """Streams a local file into the store (multipart on S3); a partial upload is never visible."""
        self.backend.put_file(key, path, content_type)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.backend.put_bytes(key, data, content_type)

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A streaming reader; nothing is buffered beyond the current chunk."""
        return self.backend.open(key)

    def download(self, key: str, path: Path) -> None:
        self.backend.download(key, path)

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """The object as a local file: the file itself for a folder store, a temporary copy for S3."""
        return self.backend.local_path(key)

    def list_objects(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Every object under `prefix` in key order, paginated (S3 returns at most 1000 per page)."""
        return self.backend.list_objects(prefix, start_after)


@dataclass(frozen=True)
class RawFile:
    """An asset output: a file on local disk to be stored as-is, with what is known of its source."""

    path: Path
    filename: str
    content_type: str | None = None
    sha256: str | None = None  # computed while streaming when the producer already knows it
    source: dict[str, Any] = field(default_factory=dict)
    temporary: bool = False  # delete `path` once stored (a download spooled to disk)


@dataclass(frozen=True)
class KeepLatest:
    """An asset output: this partition holds the same object as the newest partition stored up to it (the
    source did not change, or could not be reached), with what is known of the source now. `sha256` is the
    object the asset expects to keep; anything else stored is refused rather than silently kept."""

    sha256: str
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """What the object store holds for one partition of an asset (read from its manifest)."""

    key: str
    sha256: str
    size: int
    filename: str
    content_type: str | None
    stored_at: str
    source: dict[str, Any]
    store: ObjectStore = field(repr=False, compare=False)

    @contextmanager
    def local_path(self) -> Iterator[Path]:
        with self.store.local_path(self.key) as path:
            yield path

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        with self.store.open(self.key) as handle:
            yield handle

    def manifest(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "store"}


def _partition_path(context: dg.OutputContext | dg.InputContext, partition_key: str) -> str:
    partitions_def = context.asset_partitions_def
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        keys = partitions_def.get_partition_key_from_str(partition_key).keys_by_dimension
        return "/".join(f"{safe_segment(dim)}={safe_segment(value)}" for dim, value in sorted(keys.items()))
    return safe_segment(partition_key)


def _asset_prefix(context: dg.OutputContext | dg.InputContext, partition_key: str | None) -> str:
    parts = [safe_segment(p) for p in context.asset_key.path]
    if partition_key is not None:
        parts.append(_partition_path(context, partition_key))
    return "/".join(parts)


class ObjectStoreIOManager(dg.ConfigurableIOManager):
    """Raw files (RawFile, bytes) and parquet (polars DataFrame) in the object store.

    Inputs load as StoredObject (call `.local_path()` or `.open()` to stream it) or, for parquet, as a
    DataFrame; a multi-partition input of DataFrames is concatenated, one of raw files is the newest stored.
    The key layout and manifests stay in here: assets reach stored files through inputs and partition mappings,
    and say "same file as before" with `KeepLatest` instead of naming a stored object.
    """

    store: ObjectStore
    # Where each stored (or kept) file is logged, when set: `pipeline.ingestion_log`.
    ingestion_log: Warehouse | None = None

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        started_at = step_started_at(context)
        stored = self._handle(context, obj)
        if self.ingestion_log is not None:  # the file is stored: a log that cannot be written does not undo it
            try:
                self.ingestion_log.log_ingestion([stored_entry(context, stored, started_at)])
            except Exception as error:
                context.log.warning(f"could not log {context.asset_key.to_user_string()} in the ingestion log: {error}")

    def _handle(self, context: dg.OutputContext, obj: Any) -> StoredObject:
        if context.has_asset_partitions and len(context.asset_partition_keys) != 1:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: the object store stores one partition per run step; "
                f"got {len(context.asset_partition_keys)} partitions"
            )
        partition = context.asset_partition_key if context.has_asset_partitions else None
        if isinstance(obj, KeepLatest):  # the newest stored object becomes this partition's: no copy, a manifest
            stored = self._keep_latest(context, partition, obj)
            context.add_output_metadata(self._metadata(stored, reused=True, source=stored.source))
            return stored
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ysh-out-") as scratch:
            raw = self._as_raw_file(context, obj, Path(scratch))
            try:
                stored, reused = self._store(context, raw, partition)
            finally:
                if raw.temporary:
                    raw.path.unlink(missing_ok=True)
        metadata = self._metadata(stored, reused=reused, source=raw.source)
        context.add_output_metadata({**metadata, "store_seconds": round(time.monotonic() - started, 3)})
        return stored

    def _metadata(self, stored: StoredObject, *, reused: bool, source: dict[str, Any]) -> dict[str, Any]:
        return {
            "sha256": stored.sha256,
            "bytes": dg.MetadataValue.int(stored.size),
            "uri": dg.MetadataValue.path(self.store.uri(stored.key)),
            "filename": stored.filename,
            "already_stored": reused,
            **{f"source_{k}": v for k, v in source.items() if isinstance(v, str | int | float | bool)},
        }

    @staticmethod
    def _as_raw_file(context: dg.OutputContext, obj: Any, scratch: Path) -> RawFile:
        if isinstance(obj, RawFile):
            return obj
        name = context.asset_key.path[-1]
        if isinstance(obj, bytes | bytearray):
            path = scratch / name
            path.write_bytes(obj)
            return RawFile(path=path, filename=name)
        if isinstance(obj, pl.DataFrame):
            path = scratch / f"{name}.parquet"
            obj.write_parquet(path)
            return RawFile(path=path, filename=path.name, content_type="application/vnd.apache.parquet")
        raise dg.DagsterInvariantViolationError(
            f"ObjectStoreIOManager stores RawFile, bytes or polars.DataFrame, not {type(obj).__name__}"
        )

    def _store(self, context: dg.OutputContext, raw: RawFile, partition: str | None) -> tuple[StoredObject, bool]:
        self.store.ensure_ready()
        sha256, size = sha256_of_file(raw.path)
        if raw.sha256 and raw.sha256 != sha256:
            raise ValueError(f"{raw.filename}: file changed on disk after download (sha256 mismatch)")
        prefix = _asset_prefix(context, partition)
        key = f"{prefix}/{sha256}{''.join(PurePosixPath(raw.filename).suffixes)[-16:]}"
        existing = self.store.stat(key)
        reused = existing is not None and existing.size == size
        if not reused:
            self.store.put_file(key, raw.path, content_type=raw.content_type)
        stored = StoredObject(
            key=key,
            sha256=sha256,
            size=size,
            filename=raw.filename,
            content_type=raw.content_type,
            stored_at=datetime.now(UTC).isoformat(),
            source=dict(raw.source),
            store=self.store,
        )
        return self._write_manifest(context, partition, stored), reused

    def _write_manifest(self, context: dg.OutputContext, partition: str | None, stored: StoredObject) -> StoredObject:
        """The commit point of a partition: written after its object is complete."""
        manifest = json.dumps(stored.manifest(), default=str, indent=1).encode()
        prefix = _asset_prefix(context, partition)
        self.store.put_bytes(f"{prefix}/_manifest.json", manifest, content_type="application/json")
        return stored

    def _keep_latest(self, context: dg.OutputContext, partition: str | None, keep: KeepLatest) -> StoredObject:
        manifests = [
            info.key
            for info in self.store.list_objects(_asset_prefix(context, None) + "/")
            if info.key.endswith("/_manifest.json")
            and info.key <= f"{_asset_prefix(context, partition)}/_manifest.json"
        ]
        latest = (
            StoredObject(**json.loads(self.store.get_bytes(max(manifests))), store=self.store) if manifests else None
        )
        if latest is None or latest.sha256 != keep.sha256:
            found = f"the newest stored is {latest.sha256[:12]}" if latest else "nothing is stored"
            raise dg.Failure(
                f"{context.asset_key.to_user_string()}: cannot keep {keep.sha256[:12]} as partition {partition}: "
                f"{found} in {self.store.describe()}"
            )
        return self._write_manifest(context, partition, replace(latest, source=keep.source or latest.source))

    def _read_manifest(self, context: dg.InputContext, partition: str | None) -> StoredObject | None:
        key = f"{_asset_prefix(context, partition)}/_manifest.json"
        if not self.store.exists(key):
            return None
        return StoredObject(**json.loads(self.store.get_bytes(key)), store=self.store)

    def load_input(self, context: dg.InputContext) -> Any:
        partitions: list[str | None] = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        if context.dagster_type.typing_type in (pl.DataFrame, pl.LazyFrame):
            return self._load_frames(context, partitions)
        if len(partitions) != 1:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: a raw-file input maps to exactly one partition, "
                f"got {len(partitions)}; use a partition mapping such as LastPartitionMapping"
            )
        stored = self._read_manifest(context, partitions[0])
        if stored is None:
            where = f" partition {partitions[0]}" if partitions[0] else ""
            raise dg.Failure(
                f"{context.asset_key.to_user_string()}{where} has nothing stored in {self.store.describe()}: "
                "materialize it first"
            )
        return stored

    def _load_frames(self, context: dg.InputContext, partitions: list[str | None]) -> pl.DataFrame | pl.LazyFrame:
        objects = [o for o in map(lambda p: self._read_manifest(context, p), partitions) if o is not None]
        if len(objects) < len(partitions):  # like a table slice with no rows: partitions never stored add nothing
            missing = len(partitions) - len(objects)
            context.log.warning(f"{missing} partition(s) of {context.asset_key.to_user_string()} not stored")
        frames = []
        for stored in objects:
            with stored.local_path() as path:
                frames.append(pl.read_parquet(path))
        frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        return frame.lazy() if context.dagster_type.typing_type is pl.LazyFrame else frame
