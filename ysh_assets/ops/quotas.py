"""Request quotas, circuit breakers and failover per external source (the ANEEL portal and its mirrors, each
distributor, Ollama).

Counters (requests per source per Brazilian day) and breaker states live where every run and process of a
deployment sees them: Redis in the `services` profile, the warehouse (`pipeline.source_quota`,
`pipeline.source_breaker`) in `local`. A source whose quota is spent or whose breaker is open is skipped
before any request is sent; `failover` walks a chain of sources and records what each step did.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

import dagster as dg
import duckdb
import httpx
import psycopg
import redis
from pydantic import Field

from ysh_assets.calendar import TIMEZONE, today_in_brazil
from ysh_assets.ops.breaker import BreakerPolicy, BreakerState
from ysh_assets.settings import DEFAULTS, Settings, redact_dsn, secret_setting
from ysh_assets.warehouse.engines import WarehouseEngine, engine_for, migrate_once

T = TypeVar("T")
# What a store that cannot answer raises: Redis, DuckDB (including the file lock held elsewhere), PostgreSQL.
STORE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, duckdb.Error, psycopg.Error)
_log = dg.get_dagster_logger("ysh_assets.ops.quotas")
COUNTER_TTL_SECONDS = 3 * 24 * 3600  # a day's counter outlives its day (time zones, late reports), then goes


class SourceUnavailable(Exception):
    """The source was not called: its quota is spent or its breaker is open."""

    outcome = "unavailable"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


class QuotaExhausted(SourceUnavailable):
    outcome = "quota_exhausted"


class BreakerOpen(SourceUnavailable):
    outcome = "breaker_open"


@dataclass(frozen=True)
class Admission:
    """A store's answer to "may this source be called now?"."""

    allowed: bool
    trial: Any = None  # set for the single half-open trial: the lease it reports its outcome with


class GuardStore(Protocol):
    """Every breaker transition is one atomic step in the store, so concurrent runs and processes cannot lose a
    failure or let two trials through: closed counts failures and opens at the threshold; an open breaker past
    its cool-down leases ONE half-open trial (state `half_open`, `open_until` = the lease's end, which is also
    its token); only that trial's outcome closes or re-opens it, and an expired lease frees the next trial."""

    def describe(self) -> str: ...

    def add_requests(self, source: str, day: date, count: int) -> int:
        """Adds `count` (negative to give back, 0 to read) to the day's counter and returns the new total."""
        ...

    def usage(self, day: date) -> dict[str, int]: ...

    def breaker(self, source: str) -> BreakerState: ...

    def breakers(self) -> dict[str, BreakerState]: ...

    def admit(self, source: str, now: float, lease_until: float) -> Admission:
        """Closed: allowed. Open past its cool-down, or a half-open trial whose lease ran out: this caller
        gets the trial lease until `lease_until`. Otherwise refused."""
        ...

    def record_failure(self, source: str, *, threshold: int, trial: Any, reopen_until: float, error: str) -> None:
        """Counts a failure; opens a closed breaker at `threshold` failures and re-opens on `trial`'s failure."""
        ...

    def record_success(self, source: str, trial: Any) -> None:
        """Closes the breaker when it is closed (forgets failures) or half-open on this very `trial`; an open
        breaker (opened after this call started) stays open."""
        ...


# KEYS[1] the breaker hash. ARGV: now, lease end. Returns {"closed"}, {"trial", lease} or {"refused"}.
_REDIS_ADMIT = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'closed' then return {'closed'} end
local open_until = redis.call('HGET', KEYS[1], 'open_until')
if open_until and open_until ~= '' and tonumber(open_until) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'open_until', ARGV[2])
  return {'trial', ARGV[2]}
end
return {'refused'}
"""
# ARGV: threshold, re-open end, error, trial lease ('' for none).
_REDIS_FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local open_until = redis.call('HGET', KEYS[1], 'open_until') or ''
if (state == 'closed' and failures >= tonumber(ARGV[1])) or
   (state == 'half_open' and ARGV[4] ~= '' and open_until == ARGV[4]) then
  state, open_until = 'open', ARGV[2]
end
redis.call('HSET', KEYS[1], 'state', state, 'open_until', open_until, 'last_error', ARGV[3])
return failures
"""
# ARGV: trial lease ('' for none).
_REDIS_SUCCEED = """
local state = redis.call('HGET', KEYS[1], 'state')
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if (state == 'closed' and failures > 0) or
   (state == 'half_open' and ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'open_until') == ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'open_until', '', 'last_error', '')
end
return 0
"""


@dataclass(frozen=True)
class RedisGuardStore:
    """`ysh:quota:{source}:{day}` counters (INCRBY, expiring) and `ysh:breaker:{source}` hashes whose
    transitions are Lua scripts (atomic on the server)."""

    url: str
    prefix: str = "ysh"

    @functools.cached_property
    def _client(self) -> redis.Redis:
        """One client (and connection pool) per store; thread-safe, and reset by redis-py after a fork."""
        return redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5, decode_responses=True)

    @functools.cached_property
    def _scripts(self) -> dict[str, Any]:
        scripts = {"admit": _REDIS_ADMIT, "fail": _REDIS_FAIL, "succeed": _REDIS_SUCCEED}
        return {name: self._client.register_script(body) for name, body in scripts.items()}

    def _key(self, source: str) -> str:
        return f"{self.prefix}:breaker:{source}"

    def describe(self) -> str:
        return f"redis {redact_dsn(self.url)}"

    def add_requests(self, source: str, day: date, count: int) -> int:
        key = f"{self.prefix}:quota:{source}:{day.isoformat()}"
        with self._client.pipeline() as pipe:
            total, _ = pipe.incrby(key, count).expire(key, COUNTER_TTL_SECONDS, nx=True).execute()
        return int(total)

    def usage(self, day: date) -> dict[str, int]:
        head, tail = f"{self.prefix}:quota:", f":{day.isoformat()}"
        keys = sorted(self._client.scan_iter(match=f"{head}*{tail}", count=500))
        values = self._client.mget(keys) if keys else []
        counts = {key[len(head) : -len(tail)]: int(value or 0) for key, value in zip(keys, values, strict=True)}
        return {source: count for source, count in counts.items() if count > 0}

    def breaker(self, source: str) -> BreakerState:
        return _redis_breaker(self._client.hgetall(self._key(source)))

    def breakers(self) -> dict[str, BreakerState]:
        head = self._key("")
        return {
            key[len(head) :]: _redis_breaker(self._client.hgetall(key)) for key in self._client.scan_iter(f"{head}*")
        }

    def admit(self, source: str, now: float, lease_until: float) -> Admission:
        answer = self._scripts["admit"](keys=[self._key(source)], args=[repr(now), repr(lease_until)])
        return Admission(allowed=answer[0] != "refused", trial=answer[1] if answer[0] == "trial" else None)

    def record_failure(self, source: str, *, threshold: int, trial: Any, reopen_until: float, error: str) -> None:
        self._scripts["fail"](keys=[self._key(source)], args=[threshold, repr(reopen_until), error, trial or ""])

    def record_success(self, source: str, trial: Any) -> None:
        self._scripts["succeed"](keys=[self._key(source)], args=[trial or ""])


def _redis_breaker(values: dict[str, str]) -> BreakerState:
    if not values:
        return BreakerState()
    return BreakerState(
        state=values.get("state") or "closed",  # type: ignore[arg-type]
        failures=int(values.get("failures") or 0),
        open_until=float(values["open_until"]) if values.get("open_until") else None,
        last_error=values.get("last_error") or None,
    )


_ADD_REQUESTS = (
    "INSERT INTO pipeline.source_quota AS q (source, day, requests) VALUES (%s, %s, %s) "
    "ON CONFLICT (source, day) DO UPDATE SET requests = q.requests + excluded.requests, updated_at = now() "
    "RETURNING requests"
)
_BREAKERS = "SELECT source, state, failures, open_until, last_error FROM pipeline.source_breaker"
# Each transition is one statement: the row lock (PostgreSQL) or the write conflict (DuckDB) serialises them.
_ADMIT = (
    "UPDATE pipeline.source_breaker SET state = 'half_open', open_until = %s, updated_at = now() "
    "WHERE source = %s AND state IN ('open', 'half_open') AND open_until <= %s RETURNING open_until"
)
_OPENS = "(b.state = 'closed' AND b.failures + 1 >= %s) OR (b.state = 'half_open' AND b.open_until = %s)"
_FAIL = (
    "INSERT INTO pipeline.source_breaker AS b (source, state, failures, open_until, last_error) "
    "VALUES (%s, %s, 1, %s, %s) ON CONFLICT (source) DO UPDATE SET failures = b.failures + 1, "
    f"state = CASE WHEN {_OPENS} THEN 'open' ELSE b.state END, "
    f"open_until = CASE WHEN {_OPENS} THEN %s ELSE b.open_until END, "
    "last_error = excluded.last_error, updated_at = now()"
)
_SUCCEED = (
    "UPDATE pipeline.source_breaker SET state = 'closed', failures = 0, open_until = NULL, last_error = NULL, "
    "updated_at = now() WHERE source = %s AND ((state = 'closed' AND failures > 0) "
    "OR (state = 'half_open' AND open_until = %s))"
)


def _timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class WarehouseGuardStore:
    """`pipeline.source_quota` and `pipeline.source_breaker` (sql/011) on either warehouse engine. DuckDB opens
    the file per operation (holding it would lock other processes out); migrations run once per process."""

    engine: WarehouseEngine

    @contextmanager
    def _session(self):
        migrate_once(self.engine)
        with self.engine.session() as session:
            yield session

    def describe(self) -> str:
        return f"warehouse {self.engine.describe()}"

    def add_requests(self, source: str, day: date, count: int) -> int:
        with self._session() as session:
            return int(session.scalar(_ADD_REQUESTS, (source, day, count)))

    def usage(self, day: date) -> dict[str, int]:
        with self._session() as session:
            rows = session.frame(
                "SELECT source, requests FROM pipeline.source_quota WHERE day = %s AND requests > 0 ORDER BY source",
                (day,),
            )
        return dict(rows.iter_rows())

    def breaker(self, source: str) -> BreakerState:
        with self._session() as session:
            rows = session.frame(f"{_BREAKERS} WHERE source = %s", (source,))
        return _row_breaker(rows.row(0)) if rows.height else BreakerState()

    def breakers(self) -> dict[str, BreakerState]:
        with self._session() as session:
            rows = session.frame(f"{_BREAKERS} ORDER BY source")
        return {row[0]: _row_breaker(row) for row in rows.iter_rows()}

    def admit(self, source: str, now: float, lease_until: float) -> Admission:
        lease = _timestamp(lease_until)
        with self._session() as session:
            if session.frame(_ADMIT, (lease, source, _timestamp(now))).height:
                return Admission(allowed=True, trial=lease)
            state = session.scalar("SELECT state FROM pipeline.source_breaker WHERE source = %s", (source,))
        return Admission(allowed=state in (None, "closed"))

    def record_failure(self, source: str, *, threshold: int, trial: Any, reopen_until: float, error: str) -> None:
        reopen = _timestamp(reopen_until)
        first_opens = threshold <= 1
        with self._session() as session:
            session.execute(
                _FAIL,
                (
                    source, "open" if first_opens else "closed", reopen if first_opens else None, error,
                    threshold, trial, threshold, trial, reopen,
                ),
            )  # fmt: skip

    def record_success(self, source: str, trial: Any) -> None:
        with self._session() as session:
            session.execute(_SUCCEED, (source, trial))


def _row_breaker(row: tuple) -> BreakerState:
    _, state, failures, open_until, last_error = row
    return BreakerState(state, int(failures), open_until.timestamp() if open_until else None, last_error)


def store_for(location: str) -> GuardStore | None:
    """A Redis URL, a PostgreSQL DSN (URL or libpq key=value) or a DuckDB file path; "" keeps no counters."""
    location = location.strip()
    if not location:
        return None
    if location.startswith(("redis://", "rediss://", "unix://")):
        return RedisGuardStore(location)
    if location.startswith(("postgresql://", "postgres://")) or re.match(r"\s*\w+\s*=", location):
        return WarehouseGuardStore(engine_for(dsn=location))
    return WarehouseGuardStore(engine_for(duckdb_path=location))


def quota_of(quotas: dict[str, int], source: str) -> int | None:
    """The source's own quota, else its kind's (`aneel_mirror:host` -> `aneel_mirror`); None: unlimited."""
    return quotas.get(source, quotas.get(source.split(":", 1)[0]))


@dataclass
class SourceGuard:
    """One source's quota and breaker against a store; without a store every call is allowed and not counted.

    The guard never fails a call because of its own store: when Redis or the warehouse cannot answer (down,
    or DuckDB's file held by another process's writer), the call goes through uncounted and unguarded, with a
    warning once per guard and operation, so failover, the last-good-snapshot fallback and "degrade, never
    raise" callers keep working. A guard holds the half-open trial it was given until it reports the outcome:
    use one guard per call in flight (`call` does)."""

    source: str
    store: GuardStore | None
    quota: int | None
    policy: BreakerPolicy
    clock: Callable[[], float] = time.time
    today: Callable[[], date] = today_in_brazil
    _trial: Any = field(default=None, init=False, repr=False)
    _warned: set[str] = field(default_factory=set, init=False, repr=False)

    def _ask(self, operation: str, call: Callable[[GuardStore], T]) -> T | None:
        """The store's answer, or None when there is no store or it cannot be reached."""
        if self.store is None:
            return None
        try:
            return call(self.store)
        except STORE_ERRORS as error:
            if operation not in self._warned:
                self._warned.add(operation)
                _log.warning(
                    f"{self.source}: {operation} not tracked, {self.store.describe()} unavailable "
                    f"({type(error).__name__}: {redact_dsn(str(error))[:300]}); the call goes through uncounted"
                )
            return None

    def check(self) -> None:
        """Raises QuotaExhausted or BreakerOpen when the source must not be called now; in half-open, only the
        caller that got the trial lease passes."""
        if self.quota is not None:
            used = self._ask("quota check", lambda store: store.add_requests(self.source, self.today(), 0))
            if used is not None and used >= self.quota:
                raise QuotaExhausted(self.source, f"daily quota of {self.quota} requests used")
        now = self.clock()
        admission = self._ask(
            "breaker check", lambda store: store.admit(self.source, now, now + self.policy.cooldown_seconds)
        )
        if admission is None:
            return
        if not admission.allowed:
            raise BreakerOpen(self.source, self._refusal(now))
        self._trial = admission.trial

    def _refusal(self, now: float) -> str:
        breaker = self._ask("breaker check", lambda store: store.breaker(self.source)) or BreakerState("open")
        until = datetime.fromtimestamp(breaker.open_until or now, UTC).isoformat()
        if breaker.state == "half_open":
            return f"breaker half-open: another caller's trial is under way (its lease ends {until})"
        return f"breaker open until {until} after {breaker.failures} failures"

    def count_request(self) -> None:
        """Counts one HTTP request about to be sent; refuses it (uncounted) when it would pass the quota."""
        day = self.today()
        total = self._ask("request count", lambda store: store.add_requests(self.source, day, 1))
        if total is not None and self.quota is not None and total > self.quota:
            self._ask("request count", lambda store: store.add_requests(self.source, day, -1))
            raise QuotaExhausted(self.source, f"daily quota of {self.quota} requests used")

    def httpx_hooks(self) -> dict[str, list[Callable[[httpx.Request], None]]]:
        """httpx `event_hooks` that count every request the client sends, retries and redirects included."""
        return {"request": [lambda _request: self.count_request()]}

    def succeeded(self) -> None:
        trial, self._trial = self._trial, None
        self._ask("breaker update", lambda store: store.record_success(self.source, trial))

    def failed(self, error: BaseException) -> None:
        trial, self._trial = self._trial, None
        reopen_until = self.clock() + self.policy.cooldown_seconds
        self._ask(
            "breaker update",
            lambda store: store.record_failure(
                self.source, threshold=self.policy.failures, trial=trial, reopen_until=reopen_until,
                error=_describe(error),
            ),
        )  # fmt: skip

    @contextmanager
    def call(self, failures: tuple[type[BaseException], ...]) -> Iterator[None]:
        """Checks the source, then feeds the breaker: `failures` raised inside count against it."""
        self.check()
        try:
            yield
        except SourceUnavailable:
            raise
        except failures as error:
            self.failed(error)
            raise
        self.succeeded()


# What a walk down a chain adds to a materialization (the ingestion log reads both).
FAILOVER_METADATA_KEYS = ("source_failover", "source_used")


@dataclass(frozen=True)
class FailoverStep:
    source: str
    url: str
    outcome: str  # ok | quota_exhausted | breaker_open | failed | stale
    error: str | None = None


@dataclass
class Failover:
    """The steps of one walk down a chain; `used` is the source that answered (None: none did)."""

    steps: list[FailoverStep] = field(default_factory=list)
    used: str | None = None

    def metadata(self) -> dict[str, Any]:
        """`source_failover` (JSON list of steps) and `source_used`, the keys the ingestion log reads."""
        failover_key, used_key = FAILOVER_METADATA_KEYS
        return {
            failover_key: dg.MetadataValue.json([asdict(step) for step in self.steps]),
            used_key: self.used or "none",
        }


class AllSourcesFailed(Exception):
    def __init__(self, failover: Failover, last_error: BaseException | None) -> None:
        reasons = "; ".join(f"{s.source}: {s.outcome}{f' ({s.error})' if s.error else ''}" for s in failover.steps)
        super().__init__(f"every source failed: {reasons}")
        self.failover, self.last_error = failover, last_error


def failover(
    chain: Sequence[tuple[SourceGuard, str, Callable[[], T]]], failures: tuple[type[BaseException], ...]
) -> tuple[T, Failover]:
    """Calls each (guard, shown url, call) in turn until one succeeds; skipped and failed steps are recorded.
    Raises AllSourcesFailed (with the steps) when none answered."""
    walk = Failover()
    last_error: BaseException | None = None
    for guard, url, call in chain:
        try:
            with guard.call(failures):
                result = call()
        except SourceUnavailable as skipped:
            walk.steps.append(FailoverStep(guard.source, url, skipped.outcome, skipped.reason))
            last_error = skipped
            continue
        except failures as error:
            walk.steps.append(FailoverStep(guard.source, url, "failed", _describe(error)))
            last_error = error
            continue
        walk.steps.append(FailoverStep(guard.source, url, "ok"))
        walk.used = guard.source
        return result, walk
    raise AllSourcesFailed(walk, last_error)


def _describe(error: BaseException) -> str:
    return str(error)[:500] or type(error).__name__


class GuardedResource(dg.ConfigurableResource):
    """Quota and breaker settings shared by every resource that calls an external source."""

    quota_store: str = Field(
        default="",
        description="Where counters and breakers live: a Redis URL, a PostgreSQL DSN or a DuckDB file; "
        "empty: not counted (the profile sets it).",
    )
    source_quotas: dict[str, int] = Field(default={}, description="source or kind -> requests/day (YSH_SOURCE_QUOTAS)")
    breaker_failures: int = Field(
        default=int(DEFAULTS["YSH_BREAKER_FAILURES"]), description="failures that open a breaker"
    )
    breaker_cooldown_seconds: float = Field(
        default=float(DEFAULTS["YSH_BREAKER_COOLDOWN_SECONDS"]), description="open time before a half-open trial"
    )

    def guard(self, source: str) -> SourceGuard:
        return SourceGuard(
            source=source,
            store=store_for(self.quota_store),
            quota=quota_of(self.source_quotas, source),
            policy=BreakerPolicy(self.breaker_failures, self.breaker_cooldown_seconds),
        )


def status(
    store: GuardStore, quotas: dict[str, int], sources: Sequence[str], *, now: float, day: date
) -> list[dict[str, Any]]:
    """Today's usage against each quota and each breaker's state: the `ysh quota` report."""
    usage, breakers = store.usage(day), store.breakers()
    rows = []
    for source in sorted({*sources, *usage, *breakers}):
        breaker = breakers.get(source, BreakerState())
        quota = quota_of(quotas, source)
        rows.append(
            {
                "source": source,
                "day": day.isoformat(),
                "requests": usage.get(source, 0),
                "quota": quota,
                "remaining": None if quota is None else max(0, quota - usage.get(source, 0)),
                "breaker": breaker.effective(now).replace("_", "-"),
                "failures": breaker.failures,
                "open_until": (
                    datetime.fromtimestamp(breaker.open_until, UTC).isoformat()
                    if breaker.state == "open" and breaker.open_until
                    else None
                ),
                "last_error": breaker.last_error,
            }
        )
    return rows


def profile_quota_store(settings: Settings) -> str | dg.EnvVar:
    """The one place a profile picks where counters live: Redis in `services` (by its variable's name, as the
    URL may hold a password), the DuckDB warehouse file in `local`."""
    return secret_setting("YSH_REDIS_URL") if settings.profile == "services" else str(settings.duckdb_path)


def guard_options(settings: Settings) -> dict[str, Any]:
    """The `GuardedResource` fields of a profile: its store and the quota and breaker settings."""
    return {
        "quota_store": profile_quota_store(settings),
        "source_quotas": settings.source_quotas,
        "breaker_failures": settings.breaker_failures,
        "breaker_cooldown_seconds": settings.breaker_cooldown_seconds,
    }


def profile_store(settings: Settings) -> GuardStore:
    """The store the profile's resources count in (what `ysh quota` reads)."""
    location = profile_quota_store(settings)
    store = store_for(location.get_value() or "" if isinstance(location, dg.EnvVar) else location)
    assert store is not None  # both locations are non-empty settings
    return store


def known_sources(settings: Settings) -> list[str]:
    """The sources the settings configure, listed by `ysh quota` even before their first request."""
    mirrors = [f"aneel_mirror:{httpx.URL(url).netloc.decode()}" for url in settings.ckan_mirrors]
    return ["aneel_portal", *mirrors, *(f"catalog:{name}" for name in settings.catalog_urls), "ollama"]


def quota_report(settings: Settings, *, as_json: bool = False, now: float | None = None) -> str:
    """`ysh quota`: today's requests per source against its quota, and each breaker's state."""
    store = profile_store(settings)
    rows = status(
        store, settings.source_quotas, known_sources(settings), now=time.time() if now is None else now,
        day=today_in_brazil(),
    )  # fmt: skip
    if as_json:
        return json.dumps({"store": store.describe(), "sources": rows}, indent=2)
    header = ("source", "requests", "quota", "remaining", "breaker", "failures", "open_until")
    table = [header] + [tuple("-" if row[c] is None else str(row[c]) for c in header) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [f"today {today_in_brazil().isoformat()} ({TIMEZONE}), counted in {store.describe()}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join(lines)
