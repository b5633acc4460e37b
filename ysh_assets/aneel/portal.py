"""The ANEEL open-data portal as a Dagster resource: live, or the bundled real samples served on loopback.

`YSH_SOURCES=bundled` starts the same CKAN-compatible server the tests use, in-process on 127.0.0.1, with
the files in `ysh_assets/sample_data/aneel/`; assets then talk to it through the same client, so the
offline demo exercises the real download, ZIP and encoding paths.

Every request counts against its source's daily quota and feeds its circuit breaker (`ysh_assets.ops.quotas`);
`with_failover` tries the primary portal, then each mirror (`YSH_CKAN_MIRRORS`), skipping a source whose
quota is spent or whose breaker is open, and records each step for the materialization's metadata.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import Field

from ysh_assets.aneel.ckan import (
    ANEEL_BASE_URL,
    GD_UNITS_PACKAGE_SLUG,
    GD_UNITS_RESOURCE_ID,
    TARIFFS_PACKAGE_SLUG,
    TARIFFS_RESOURCE_ID,
    CkanClient,
    CkanError,
    CkanResource,
    _safe_url,
)
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.ops.quotas import (
    AllSourcesFailed,
    Failover,
    FailoverStep,
    GuardedResource,
    SourceGuard,
    SourceUnavailable,
    failover,
)

T = TypeVar("T")
PRIMARY_SOURCE = "aneel_portal"
LAST_GOOD_SNAPSHOT = "last_good_snapshot"

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "aneel"
BUNDLED_GD_FILE = BUNDLED_DIR / "empreendimento-geracao-distribuida.csv"
BUNDLED_TARIFFS_FILE = BUNDLED_DIR / "tarifas-homologadas-distribuidoras-energia-eletrica.csv"
# Publication times of the bundled samples (their DatGeracaoConjuntoDados), so conditional requests behave
# the same in every checkout whatever the files' mtimes.
BUNDLED_PUBLISHED = {
    "gd_units": datetime(2026, 8, 19, 10, 0, tzinfo=UTC),
    "tariffs": datetime(2026, 9, 22, 10, 0, tzinfo=UTC),
}


@dataclass(frozen=True)
class TrackedResource:
    name: str  # gd_units | tariffs: names the raw asset `aneel/<name>_raw`
    package: str  # CKAN package id or slug
    resource_id: str


# Per request inside a schedule or sensor tick: attempts x timeout stays far below Dagster's 60 s budget.
TICK_TIMEOUT_SECONDS = 8.0
TICK_ATTEMPTS = 2


class PortalsFailed(CkanError):
    """The primary portal and every mirror failed or were skipped; `failover` holds each step."""

    def __init__(self, walk: Failover, message: str) -> None:
        super().__init__(message)
        self.failover = walk

    def fell_back(self, what: str) -> Failover:
        """The walk ended on the last good snapshot (`what` names it): the step that closes the chain."""
        step = FailoverStep(LAST_GOOD_SNAPSHOT, what, "stale")
        return Failover(steps=[*self.failover.steps, step], used=LAST_GOOD_SNAPSHOT)


class AneelPortal(GuardedResource):
    """Where ANEEL data comes from, and the client settings for reaching it."""

    base_url: str = Field(default=ANEEL_BASE_URL, description="CKAN base URL (YSH_CKAN_URL)")
    mirrors: list[str] = Field(default=[], description="CKAN mirrors tried after base_url, in order (YSH_CKAN_MIRRORS)")
    sources: str = Field(default="live", description="live, or bundled samples served on loopback (YSH_SOURCES)")
    timeout_seconds: float = 120.0
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    gd_units_package: str = GD_UNITS_PACKAGE_SLUG
    gd_units_resource: str = GD_UNITS_RESOURCE_ID
    tariffs_package: str = TARIFFS_PACKAGE_SLUG
    tariffs_resource: str = TARIFFS_RESOURCE_ID

    def tracked(self) -> dict[str, TrackedResource]:
        return {
            "gd_units": TrackedResource("gd_units", self.gd_units_package, self.gd_units_resource),
            "tariffs": TrackedResource("tariffs", self.tariffs_package, self.tariffs_resource),
        }

    def chain(self) -> list[tuple[str, str]]:
        """(source, CKAN base URL) in failover order: the primary portal, then the mirrors (none when bundled)."""
        mirrors = [] if self.sources == "bundled" else self.mirrors
        return [(PRIMARY_SOURCE, self.base_url)] + [
            (f"aneel_mirror:{httpx.URL(url).netloc.decode()}", url) for url in mirrors
        ]

    @contextmanager
    def client(self, *, within_tick: bool = False) -> Iterator[CkanClient]:
        """A CKAN client on the primary portal, its requests counted against its quota (a spent quota or an
        open breaker raises CkanError, as an unreachable portal does); `within_tick` (schedules, sensors)
        bounds every request tighter, so a hung portal ends the tick with a skip reason well inside Dagster's
        tick budget instead of timing it out."""
        guard = self.guard(PRIMARY_SOURCE)
        try:
            with guard.call((CkanError,)), self._client(self.base_url, guard, within_tick=within_tick) as client:
                yield client  # the outcome feeds the breaker, so a half-open trial taken here is reported
        except SourceUnavailable as skipped:
            raise CkanError(str(skipped)) from skipped

    def with_failover(self, call: Callable[[CkanClient], T]) -> tuple[T, Failover]:
        """`call` on the primary portal, else on each mirror in turn; raises PortalsFailed when none answers."""

        def attempt(url: str, guard: SourceGuard) -> Callable[[], T]:
            def run() -> T:
                with self._client(url, guard) as client:
                    return call(client)

            return run

        chain = []
        for source, url in self.chain():
            guard = self.guard(source)
            chain.append((guard, _safe_url(url), attempt(url, guard)))
        try:
            return failover(chain, (CkanError,))
        except AllSourcesFailed as error:
            raise PortalsFailed(error.failover, str(error)) from error.last_error

    @contextmanager
    def _client(self, base_url: str, guard: SourceGuard, *, within_tick: bool = False) -> Iterator[CkanClient]:
        options = {
            "timeout": min(self.timeout_seconds, TICK_TIMEOUT_SECONDS) if within_tick else self.timeout_seconds,
            "max_attempts": min(self.max_attempts, TICK_ATTEMPTS) if within_tick else self.max_attempts,
            "backoff_base": self.backoff_base_seconds,
            "event_hooks": guard.httpx_hooks(),
        }
        if self.sources != "bundled":
            with CkanClient(base_url, **options) as client:
                yield client
            return
        packages = [
            gd_units_package(BUNDLED_GD_FILE, last_modified=BUNDLED_PUBLISHED["gd_units"]),
            tariffs_package(BUNDLED_TARIFFS_FILE, last_modified=BUNDLED_PUBLISHED["tariffs"]),
        ]
        with CkanServer(packages) as server, CkanClient(server.base_url, **options) as client:
            yield client


def change_since(client: CkanClient, resource: CkanResource, known: Mapping[str, Any]) -> str | None:
    """Why the published file may differ from the snapshot `known` describes (its recorded source), or None
    when it has not changed: the catalog entry first (free), then, where the catalog publishes no hash
    (ANEEL's usually), a conditional request on the file (ETag / Last-Modified; its body is never read).
    The raw snapshot assets and the hourly schedule both decide with this."""
    if not known:
        return "never downloaded"
    published = resource.last_modified.isoformat() if resource.last_modified else None
    if published != known.get("last_modified"):
        return f"catalog last_modified {known.get('last_modified')} -> {published}"
    if resource.hash:
        return None if resource.hash == known.get("ckan_hash") else "catalog hash changed"
    if client.probe(resource.url, etag=known.get("etag"), last_modified=known.get("http_last_modified")):
        return "conditional GET: the file changed (ETag / Last-Modified moved)"
    return None
