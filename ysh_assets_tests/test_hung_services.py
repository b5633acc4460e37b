"""A server that accepts connections and never answers must fail its callers in bounded time, not hang them."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ysh_assets.io_managers.object_store import ObjectStore
from ysh_assets.warehouse.sessions import CONNECT_TIMEOUT_SECONDS

YSH = str(Path(sys.executable).with_name("ysh"))


@pytest.fixture
def silent_server():
    """A loopback TCP server that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_ysh_migrate_against_a_silent_postgresql_fails_within_the_connect_timeout(silent_server):
    started = time.monotonic()
    done = subprocess.run(
        [YSH, "migrate", "--dsn", f"postgresql://ysh:s3cret@127.0.0.1:{silent_server}/ysh"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2 and "PostgreSQL unreachable" in done.stderr and "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr
    assert CONNECT_TIMEOUT_SECONDS <= elapsed < CONNECT_TIMEOUT_SECONDS + 20


def test_a_silent_object_store_fails_a_listing_in_bounded_time(silent_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = ObjectStore(
        root="s3://ysh-hung/ysh",
        endpoint_url=f"http://127.0.0.1:{silent_server}",
        read_timeout_seconds=1.0,
        max_attempts=2,
    )
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)timeout|timed out"):
        list(store.list_objects("incoming/"))
    assert time.monotonic() - started < 10


def test_the_hourly_schedule_skips_in_bounded_time_when_the_portal_hangs(silent_server, tmp_path):
    import dagster as dg

    from ysh_assets import automation
    from ysh_assets.aneel.portal import TICK_ATTEMPTS, TICK_TIMEOUT_SECONDS, AneelPortal

    resources = {
        "aneel_portal": AneelPortal(base_url=f"http://127.0.0.1:{silent_server}", backoff_base_seconds=0.01),
    }
    started = time.monotonic()
    with dg.instance_for_test() as instance, dg.build_schedule_context(instance=instance, resources=resources) as ctx:
        result = automation.hourly_incremental(ctx)
    assert isinstance(result, dg.SkipReason) and "ANEEL portal unreachable" in result.skip_message
    assert time.monotonic() - started < TICK_ATTEMPTS * TICK_TIMEOUT_SECONDS + 10
