"""Redis IO manager for small hot lookup assets, in front of the warehouse (the system of record).

Every write goes to the warehouse first, then to Redis as JSON under `ysh:{asset}:{partition}` with a TTL
(`ysh:{asset}` when unpartitioned; the asset key path is joined with `/`). Redis is only a cache: when
it is unreachable a write logs a warning and the run still succeeds, and a read falls back to the
warehouse copy (and refills the cache when Redis is back).

Value layout, readable by any service without polars:
`{"asset": ..., "partition": ..., "written_at": ISO time, "schema": {column: polars dtype}, "rows": [...]}`
"""

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl
import redis
from pydantic import Field, PrivateAttr

from ysh_assets.io_managers.audit import AuditedLoad, as_audited
from ysh_assets.settings import redact_dsn

TTL_METADATA_KEY = "ysh/cache_ttl_seconds"

_SIMPLE_DTYPES = {
    str(dtype): dtype
    for dtype in (
        pl.Int8(), pl.Int16(), pl.Int32(), pl.Int64(), pl.UInt8(), pl.UInt16(), pl.UInt32(), pl.UInt64(),
        pl.Float32(), pl.Float64(), pl.Boolean(), pl.String(), pl.Date(), pl.Time(), pl.Null(),
    )
}  # fmt: skip


def cache_key(asset_key: dg.AssetKey, partition: str | None) -> str:
    asset = "/".join(asset_key.path)
    return f"ysh:{asset}:{partition}" if partition is not None else f"ysh:{asset}"


def _dtype_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return f"Datetime[{dtype.time_unit},{dtype.time_zone or ''}]"
    name = str(dtype)
    return name if name in _SIMPLE_DTYPES else "String"


def _dtype_from_name(name: str) -> pl.DataType:
    if name.startswith("Datetime["):
        unit, zone = name[len("Datetime[") : -1].split(",")
        return pl.Datetime(unit, zone or None)  # type: ignore[arg-type]
    return _SIMPLE_DTYPES[name]


def encode_frame(frame: pl.DataFrame, asset_key: dg.AssetKey, partition: str | None) -> str:
    schema = {name: _dtype_name(dtype) for name, dtype in frame.schema.items()}
    plain = frame.with_columns(pl.col(n).cast(pl.String) for n, t in schema.items() if t == "String")
    return json.dumps(
        {
            "asset": "/".join(asset_key.path),
            "partition": partition,
            "written_at": datetime.now(UTC).isoformat(),
            "schema": schema,
            "rows": plain.to_dicts(),
        },
        default=str,
        ensure_ascii=False,
    )


def decode_frame(payload: str | bytes) -> pl.DataFrame:
    value = json.loads(payload)
    schema = {name: _dtype_from_name(type_name) for name, type_name in value["schema"].items()}
    temporal = {name for name, dtype in schema.items() if isinstance(dtype, pl.Datetime | pl.Date | pl.Time)}
    frame = pl.from_dicts(
        value["rows"], schema={name: pl.String() if name in temporal else dtype for name, dtype in schema.items()}
    )
    conversions = []
    for name in temporal:
        dtype = schema[name]
        if isinstance(dtype, pl.Datetime):
            conversions.append(pl.col(name).str.to_datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone))
        elif dtype == pl.Date:
            conversions.append(pl.col(name).str.to_date())
        else:
            conversions.append(pl.col(name).str.to_time())
    return frame.with_columns(conversions) if conversions else frame


class RedisCacheIOManager(dg.ConfigurableIOManager):
    """Warehouse write + Redis JSON copy with a TTL; reads try Redis, then the warehouse."""

    url: str = Field(description="redis://host:port/db")
    default_ttl_seconds: int = Field(default=26 * 3600, description=f"TTL unless the asset sets {TTL_METADATA_KEY}")
    socket_timeout_seconds: float = Field(default=2.0)
    warehouse: dg.ResourceDependency[dg.IOManager]

    _redis: Any = PrivateAttr(default=None)

    def _client(self) -> redis.Redis:
        """One client (and connection pool) per IO manager instance, created on first use."""
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=self.socket_timeout_seconds,
                socket_timeout=self.socket_timeout_seconds,
                retry_on_timeout=False,
            )
        return self._redis

    @staticmethod
    def _partition(context: dg.OutputContext | dg.InputContext) -> str | None:
        if not context.has_asset_partitions:
            return None
        keys = context.asset_partition_keys
        return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | AuditedLoad) -> None:
        self.warehouse.handle_output(context, obj)  # audited and published there first
        data = as_audited(obj).data
        frame = data.collect() if isinstance(data, pl.LazyFrame) else data
        key = cache_key(context.asset_key, self._partition(context))
        ttl = int((context.definition_metadata or {}).get(TTL_METADATA_KEY, self.default_ttl_seconds))
        try:
            self._client().set(key, encode_frame(frame, context.asset_key, self._partition(context)), ex=ttl)
        except redis.RedisError as error:
            context.log.warning(
                f"Redis at {redact_dsn(self.url)} unreachable ({type(error).__name__}); "
                f"{key} not cached, the warehouse copy is current"
            )
            context.add_output_metadata({"cache": "unavailable", "cache_key": key})
            return
        context.add_output_metadata({"cache": "written", "cache_key": key, "cache_ttl_seconds": ttl})

    def load_input(self, context: dg.InputContext) -> Any:
        key = cache_key(context.asset_key, self._partition(context))
        client = self._client()
        try:
            payload = client.get(key)
        except redis.RedisError as error:
            context.log.warning(f"Redis unreachable ({type(error).__name__}); reading {key} from the warehouse")
            return self.warehouse.load_input(context)
        if payload is not None:
            frame = decode_frame(payload)
            return frame.lazy() if context.dagster_type.typing_type is pl.LazyFrame else frame
        frame = self.warehouse.load_input(context)
        ttl = int((context.upstream_output.definition_metadata or {}).get(TTL_METADATA_KEY, self.default_ttl_seconds))
        collected = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        with contextlib.suppress(redis.RedisError):  # refilling is best effort; the value is already good
            client.set(key, encode_frame(collected, context.asset_key, self._partition(context)), ex=ttl)
        return frame
