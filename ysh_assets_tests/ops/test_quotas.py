"""Quotas and circuit breakers on each real backend: Redis, the DuckDB warehouse file and PostgreSQL."""

import functools
import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import redis

from ysh_assets.calendar import today_in_brazil
from ysh_assets.catalog.sources import CatalogSource
from ysh_assets.cli import main
from ysh_assets.datasheets.enrich import OllamaResource, enrich
from ysh_assets.io_managers.object_store import ObjectStore
from ysh_assets.ops.breaker import BreakerPolicy, BreakerState
from ysh_assets.ops.quotas import (
    BreakerOpen,
    QuotaExhausted,
    RedisGuardStore,
    SourceGuard,
    WarehouseGuardStore,
    failover,
    store_for,
)
from ysh_assets.settings import Settings
from ysh_assets_tests.conftest import free_port
from ysh_assets_tests.doubles.ollama_server import OllamaServer

DAY = date(2026, 12, 1)


@pytest.fixture(params=["redis", "duckdb", "postgres"])
def location(request, tmp_path) -> str:
    """Where the counters live, as the profiles name it: a Redis URL, a DuckDB file, a PostgreSQL DSN."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    if request.param == "duckdb":
        return str(tmp_path / "warehouse.duckdb")
    return request.getfixturevalue("empty_pg_dsn")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def guard(location: str, source: str, *, quota=None, failures=3, cooldown=60.0, clock=None) -> SourceGuard:
    return SourceGuard(
        source=source,
        store=store_for(location),
        quota=quota,
        policy=BreakerPolicy(failures, cooldown),
        clock=clock or Clock(),
        today=lambda: DAY,
    )


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"  # Redis is shared by the whole session


def test_the_store_matches_the_location(location):
    expected = RedisGuardStore if location.startswith("redis://") else WarehouseGuardStore
    assert isinstance(store_for(location), expected)


def test_requests_count_per_source_and_day_and_stop_at_the_quota(location):
    source, other = unique("aneel_portal"), unique("ollama")
    portal = guard(location, source, quota=3)
    for _ in range(3):
        portal.count_request()
    with pytest.raises(QuotaExhausted, match="daily quota of 3"):
        portal.count_request()
    with pytest.raises(QuotaExhausted):
        portal.check()
    guard(location, other).count_request()
    usage = store_for(location).usage(DAY)
    assert usage[source] == 3  # the refused request was not counted
    assert usage[other] == 1
    assert source not in store_for(location).usage(date(2026, 12, 2))


def test_a_fresh_process_sees_the_same_counter(location):
    """The point of a shared backend: another run worker (a new process) continues from the same count."""
    source = unique("catalog:solfacil")
    guard(location, source).count_request()
    code = (
        "import sys; from datetime import date; from ysh_assets.ops.quotas import store_for; "
        f"print(store_for(sys.argv[1]).add_requests({source!r}, date(2026, 12, 1), 1))"
    )
    out = subprocess.run([sys.executable, "-c", code, location], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "2"
    assert store_for(location).usage(DAY)[source] == 2


def test_breaker_opens_rejects_half_opens_and_closes(location):
    clock = Clock()
    source = unique("aneel_portal")
    breaker = guard(location, source, failures=3, cooldown=60, clock=clock)
    for attempt in range(3):
        with pytest.raises(ConnectionError), breaker.call((ConnectionError,)):
            raise ConnectionError(f"refused {attempt}")
    state = store_for(location).breaker(source)
    assert (state.state, state.failures, state.open_until) == ("open", 3, clock.now + 60)
    assert state.last_error == "refused 2"

    calls = []
    with pytest.raises(BreakerOpen, match="breaker open until"), breaker.call((ConnectionError,)):
        calls.append("sent")
    assert calls == []  # rejected before the call

    clock.now += 61  # the cool-down is over: one trial goes through
    assert store_for(location).breaker(source).effective(clock.now) == "half_open"
    with breaker.call((ConnectionError,)):
        calls.append("trial")
    assert calls == ["trial"]
    closed = store_for(location).breaker(source)
    assert (closed.state, closed.failures) == ("closed", 0)


def test_a_failed_trial_reopens_the_breaker_for_another_cool_down(location):
    clock = Clock()
    source = unique("ollama")
    breaker = guard(location, source, failures=2, cooldown=30, clock=clock)
    for _ in range(2):
        breaker.failed(TimeoutError("timed out"))
    clock.now += 31
    with pytest.raises(TimeoutError), breaker.call((TimeoutError,)):
        raise TimeoutError("still down")
    state = store_for(location).breaker(source)
    assert state.state == "open" and state.open_until == clock.now + 30
    with pytest.raises(BreakerOpen):
        breaker.check()


def test_failures_below_the_threshold_are_forgotten_after_a_success(location):
    source = unique("catalog:neosolar")
    breaker = guard(location, source, failures=3)
    breaker.failed(OSError("one"))
    breaker.failed(OSError("two"))
    breaker.succeeded()
    breaker.failed(OSError("three"))
    state = store_for(location).breaker(source)
    assert (state.state, state.failures) == ("closed", 1)


@pytest.fixture(params=["redis", "postgres"])
def shared_location(request) -> str:
    """The backends several processes write at once: Redis (services) and a PostgreSQL warehouse."""
    return request.getfixturevalue("redis_url" if request.param == "redis" else "empty_pg_dsn")


def _at_once(workers: int, work) -> list:
    """`work(i)` in `workers` threads released together; each result or raised exception."""
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_failures_are_all_counted(shared_location):
    source = unique("aneel_portal")

    def fail_25_times(_: int) -> None:
        worker = guard(shared_location, source, failures=5)
        for attempt in range(25):
            worker.failed(OSError(f"refused {attempt}"))

    assert _at_once(8, fail_25_times) == [None] * 8
    state = store_for(shared_location).breaker(source)
    assert (state.state, state.failures) == ("open", 200)


def test_half_open_lets_exactly_one_trial_through(shared_location):
    clock = Clock()
    source = unique("catalog:aldo")
    guard(shared_location, source, failures=1, cooldown=60, clock=clock).failed(OSError("down"))
    clock.now += 61
    callers = [guard(shared_location, source, failures=1, cooldown=60, clock=clock) for _ in range(8)]
    outcomes = _at_once(8, lambda i: callers[i].check())
    trials = [caller for caller, outcome in zip(callers, outcomes, strict=True) if outcome is None]
    assert len(trials) == 1
    assert all(isinstance(outcome, BreakerOpen) and "trial is under way" in str(outcome) for outcome in outcomes
               if outcome is not None)  # fmt: skip
    assert store_for(shared_location).breaker(source).state == "half_open"
    trials[0].succeeded()
    assert store_for(shared_location).breaker(source) == BreakerState()
    assert _at_once(8, lambda i: callers[i].check()) == [None] * 8  # closed: everyone again


def test_a_success_never_closes_a_breaker_opened_or_re_leased_after_its_call_began(location):
    clock = Clock()
    source = unique("aneel_mirror:m")
    slow = guard(location, source, failures=2, cooldown=60, clock=clock)
    slow.check()  # closed: the call starts
    other = guard(location, source, failures=2, cooldown=60, clock=clock)
    other.failed(OSError("one"))
    other.failed(OSError("two"))
    slow.succeeded()  # finished after the breaker opened: says nothing of the source now
    assert store_for(location).breaker(source).state == "open"

    clock.now += 61
    slow.check()  # the half-open trial, whose lease (one cool-down) then runs out
    clock.now += 61
    other.check()  # the next trial
    slow.succeeded()
    assert store_for(location).breaker(source).state == "half_open"
    other.failed(OSError("three"))
    state = store_for(location).breaker(source)
    assert (state.state, state.failures, state.open_until) == ("open", 3, clock.now + 60)


def test_an_unreachable_store_lets_every_call_through_uncounted_with_one_warning(caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: connection refused
    source = unique("aneel_portal")
    portal = guard(dead, source, quota=1, failures=1)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            portal.check()
            portal.count_request()
            portal.count_request()  # over the quota of 1, were it counted
            portal.failed(OSError("boom"))  # would open the breaker, were it recorded
            portal.succeeded()
        answer, walk = failover([(portal, "http://primary", lambda: "primary")], (OSError,))
    assert (answer, walk.used) == ("primary", source)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and source in r.getMessage()]
    assert len(warnings) == 4  # once per operation of this guard: quota check, breaker check, count, update
    assert all("uncounted" in w and "127.0.0.1" in w for w in warnings)


def test_ollama_with_its_store_down_is_still_called(tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with OllamaServer(reply='{"records": []}') as server:
        ollama = OllamaResource(base_url=server.base_url, quota_store=dead, source_quotas={"ollama": 1})
        assert [enrich(ollama, "Inversor 5 kW", []).status for _ in range(2)] == ["ok", "ok"]
        assert len(server.chat_requests()) == 2


def test_a_duckdb_file_locked_by_another_process_degrades_to_uncounted(tmp_path, caplog):
    """The local profile counts in the warehouse file; a run writing it elsewhere holds DuckDB's lock."""
    path = str(tmp_path / "warehouse.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', "
         "flush=True); time.sleep(60)", path],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        portal = guard(path, unique("aneel_portal"), quota=5)
        with caplog.at_level(logging.WARNING):
            portal.check()
            portal.count_request()
            portal.failed(OSError("HTTP 503"))
        assert any("IOException" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    finally:
        holder.kill()
        holder.wait()
    assert store_for(path).usage(DAY) == {}  # nothing was counted while locked, and the file works again


def test_a_redis_store_keeps_one_client(redis_url):
    store = RedisGuardStore(redis_url)
    store.add_requests(unique("ollama"), DAY, 1)
    client = store._client
    store.usage(DAY)
    store.breaker("ollama")
    assert store._client is client and client.ping()


def test_failover_skips_spent_and_open_sources_and_records_each_step(redis_url):
    spent = guard(redis_url, unique("aneel_portal"), quota=0)
    broken = guard(redis_url, unique("aneel_mirror:a"), failures=1)
    broken.failed(OSError("down"))
    failing = guard(redis_url, unique("aneel_mirror:b"))
    healthy = guard(redis_url, unique("aneel_mirror:c"))

    def boom():
        raise OSError("connection refused")

    answer, walk = failover(
        [
            (spent, "http://primary", lambda: "primary"),
            (broken, "http://a", lambda: "a"),
            (failing, "http://b", boom),
            (healthy, "http://c", lambda: "c"),
        ],
        (OSError,),
    )
    assert answer == "c" and walk.used == healthy.source
    assert [(s.source, s.outcome) for s in walk.steps] == [
        (spent.source, "quota_exhausted"),
        (broken.source, "breaker_open"),
        (failing.source, "failed"),
        (healthy.source, "ok"),
    ]
    assert walk.steps[2].error == "connection refused"
    assert store_for(redis_url).breaker(failing.source).failures == 1


def test_redis_counters_use_the_documented_key_and_expire(redis_url):
    source = unique("aneel_portal")
    guard(redis_url, source).count_request()
    client = redis.Redis.from_url(redis_url)
    key = f"ysh:quota:{source}:{DAY.isoformat()}"
    assert client.get(key) == b"1"
    assert 0 < client.ttl(key) <= 3 * 24 * 3600


def test_ysh_quota_prints_usage_and_breakers_of_the_local_profile(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YSH_PROFILE", "local")
    monkeypatch.setenv("YSH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YSH_SOURCE_QUOTAS", json.dumps({"aneel_portal": 10, "aneel_mirror": 5}))
    monkeypatch.setenv("YSH_CKAN_MIRRORS", "http://mirror.example:8080")
    settings = Settings.from_env()
    store = store_for(str(settings.duckdb_path))
    portal = SourceGuard("aneel_portal", store, 10, BreakerPolicy(1, 600))
    for _ in range(4):
        portal.count_request()
    portal.failed(OSError("HTTP 503"))

    assert main(["quota"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "counted in warehouse duckdb:" in table[0]
    assert table[1].split() == ["source", "requests", "quota", "remaining", "breaker", "failures", "open_until"]
    rows = {line.split()[0]: line.split() for line in table[2:]}
    assert rows["aneel_portal"][1:6] == ["4", "10", "6", "open", "1"]
    assert rows["aneel_mirror:mirror.example:8080"][1:6] == ["0", "5", "5", "closed", "0"]

    assert main(["quota", "--json"]) == 0
    report = {row["source"]: row for row in json.loads(capsys.readouterr().out)["sources"]}
    assert report["aneel_portal"]["requests"] == 4 and report["aneel_portal"]["breaker"] == "open"
    assert report["aneel_portal"]["open_until"] is not None and report["aneel_portal"]["last_error"] == "HTTP 503"
    assert report["ollama"]["quota"] is None  # not in this YSH_SOURCE_QUOTAS: unlimited


def test_ysh_quota_reads_redis_in_the_services_profile(redis_url, monkeypatch, capsys):
    source = unique("catalog:fotus")
    monkeypatch.setenv("YSH_PROFILE", "services")
    monkeypatch.setenv("YSH_REDIS_URL", redis_url)
    RedisGuardStore(redis_url).add_requests(source, today_in_brazil(), 7)
    assert main(["quota", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["store"].startswith("redis ")
    row = next(r for r in report["sources"] if r["source"] == source)
    assert (row["requests"], row["quota"], row["remaining"]) == (7, 1000, 993)


def test_ollama_breaker_opens_to_rules_only_and_a_trial_after_the_cool_down_closes_it(tmp_path):
    store = str(tmp_path / "warehouse.duckdb")
    guards = {"quota_store": store, "breaker_failures": 2, "breaker_cooldown_seconds": 0.5}
    down = OllamaResource(base_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2, **guards)
    for _ in range(2):
        result = enrich(down, "Modelo XYZ 550 W", [])
        assert result.status == "unavailable" and "unreachable" in result.detail
    skipped = enrich(down, "Modelo XYZ 550 W", [])
    assert skipped.status == "unavailable" and "not called: breaker open until" in skipped.detail
    assert store_for(store).breaker("ollama").state == "open"

    time.sleep(0.6)  # the cool-down: the next call is a half-open trial
    with OllamaServer(reply='{"records": []}') as server:
        up = OllamaResource(base_url=server.base_url, **guards)
        assert enrich(up, "Modelo XYZ 550 W", []).status == "ok"
        assert len(server.chat_requests()) == 1
    state = store_for(store).breaker("ollama")
    assert (state.state, state.failures) == ("closed", 0)


def test_ollama_over_its_quota_is_not_called(tmp_path):
    store = str(tmp_path / "warehouse.duckdb")
    with OllamaServer(reply='{"records": []}') as server:
        ollama = OllamaResource(base_url=server.base_url, quota_store=store, source_quotas={"ollama": 1})
        assert enrich(ollama, "Inversor 5 kW", []).status == "ok"
        second = enrich(ollama, "Inversor 5 kW", [])
        assert second.status == "unavailable" and "daily quota of 1 requests used" in second.detail
        assert len(server.chat_requests()) == 1
    assert store_for(store).usage(today_in_brazil()) == {"ollama": 1}


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server on loopback serving a folder, standing in for a distributor's file host."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietFiles, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_a_distributor_counts_its_requests_and_stops_at_its_quota(tmp_path, file_server):
    folder, base = file_server
    (folder / "modules.json").write_text("[]")
    (folder / "inverters.json").write_text("[]")
    store = str(tmp_path / "warehouse.duckdb")
    urls = {"solfacil": [f"{base}/modules.json", f"{base}/inverters.json"]}
    source = CatalogSource(
        object_store=ObjectStore(root=(tmp_path / "objects").as_uri()),
        urls=urls,
        quota_store=store,
        source_quotas={"catalog": 3},
    )
    with source.files("solfacil", DAY) as files:
        assert [f.name for f in files] == urls["solfacil"]
    assert store_for(store).usage(today_in_brazil()) == {"catalog:solfacil": 2}
    with (
        pytest.raises(dg.Failure, match=r"inverters\.json: not fetched: daily quota of 3"),
        source.files("solfacil", DAY),
    ):
        pass
    assert store_for(store).usage(today_in_brazil()) == {"catalog:solfacil": 3}


def test_a_failing_distributor_opens_its_breaker(tmp_path, file_server):
    _, base = file_server
    store = str(tmp_path / "warehouse.duckdb")
    source = CatalogSource(
        object_store=ObjectStore(root=(tmp_path / "objects").as_uri()),
        urls={"fotus": [f"{base}/missing.json"]},
        quota_store=store,
        breaker_failures=2,
    )
    for _ in range(2):
        with pytest.raises(dg.Failure, match="could not be fetched"), source.files("fotus", DAY):
            pass
    with pytest.raises(dg.Failure, match="not fetched: breaker open"), source.files("fotus", DAY):
        pass
    assert store_for(store).usage(today_in_brazil()) == {"catalog:fotus": 2}
