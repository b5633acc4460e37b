"""HTTP client for the ANEEL open-data portal (CKAN API v3).

The portal is slow and times out often, and its download URLs change between publications, so this client
retries transient failures with capped exponential backoff and always resolves download URLs through
``package_show`` instead of trusting stored URLs.

Downloads stream into a caller-provided binary sink with bounded memory, hashing as they go. A download that
fails mid-stream is retried only if the sink can be rewound: a seekable sink is truncated back to where it
started (``seek(start); truncate()``) before the next attempt; a non-seekable sink that already received bytes
makes the failure final. Either way a cut transfer is never reported as a success.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, Literal, Self, TypeVar

import httpx

from ysh_assets.settings import ConfigurationError

__all__ = [
    "ANEEL_BASE_URL",
    "GD_UNITS_PACKAGE_ID",
    "GD_UNITS_PACKAGE_SLUG",
    "GD_UNITS_RESOURCE_ID",
    "TARIFFS_PACKAGE_ID",
    "TARIFFS_PACKAGE_SLUG",
    "TARIFFS_RESOURCE_ID",
    "CkanClient",
    "CkanError",
    "CkanResource",
    "DownloadResult",
]

ANEEL_BASE_URL = "https://dadosabertos.aneel.gov.br"

GD_UNITS_PACKAGE_ID = "5e0fafd2-21b9-4d5b-b622-40438d40aba2"
GD_UNITS_PACKAGE_SLUG = "relacao-de-empreendimentos-de-geracao-distribuida"
GD_UNITS_RESOURCE_ID = "b1bd71e7-d0ad-4214-9053-cbd58e9564a7"  # empreendimento-geracao-distribuida.csv (a ZIP)

TARIFFS_PACKAGE_ID = "5a583f3e-1646-4f67-bf0f-69db4203e89e"
TARIFFS_PACKAGE_SLUG = "tarifas-distribuidoras-energia-eletrica"
TARIFFS_RESOURCE_ID = "fcf2906c-7c32-4b9b-a637-054e7a5234f4"  # tarifas-homologadas-distribuidoras-energia-eletrica.csv

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"ysh-assets-ckan-client/1.0 httpx/{httpx.__version__}"
ZIP_MAGIC = b"PK\x03\x04"

log = logging.getLogger(__name__)
T = TypeVar("T")


class CkanError(Exception):
    """A CKAN call failed for good: permanent HTTP error, API error, cut transfer or retries exhausted."""


class _IncompleteBody(Exception):
    """The body ended before Content-Length bytes arrived without the transport noticing; retryable."""


# Failures worth another attempt; anything else (bad URL, TLS misconfiguration...) would fail the same way again.
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, _IncompleteBody)


@dataclass(frozen=True)
class CkanResource:
    """One resource of a package as ``package_show`` describes it right now."""

    package_id: str
    package_name: str
    resource_id: str
    name: str
    format: str
    url: str
    size: int | None
    last_modified: datetime | None  # tz-aware UTC
    hash: str | None

    @classmethod
    def from_package(cls, package: Mapping[str, Any], resource: Mapping[str, Any]) -> CkanResource:
        """Build from a ``package_show`` result and one of its ``resources`` entries."""
        size = resource.get("size")
        return cls(
            package_id=package["id"],
            package_name=package["name"],
            resource_id=resource["id"],
            name=resource.get("name") or "",
            format=resource.get("format") or "",
            url=resource["url"],
            size=int(size) if size not in (None, "") else None,
            last_modified=_parse_ckan_timestamp(resource.get("last_modified")),
            hash=resource.get("hash") or None,
        )


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of one (possibly conditional) download; header values are kept verbatim for the next request."""

    status: Literal["downloaded", "not_modified"]
    sha256: str | None
    size: int | None
    etag: str | None
    last_modified: str | None  # the HTTP Last-Modified header value
    content_type: str | None
    is_zip: bool  # from the magic bytes: ANEEL serves ZIPs under .csv names
    url: str


class CkanClient:
    """Synchronous CKAN client with retries; use as a context manager or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable[[httpx.Request], None]]] | None = None,
    ) -> None:
        """`event_hooks` are httpx's: a `request` hook sees every request sent, retries and redirects included
        (the source quotas count and refuse requests there)."""
        if max_attempts < 1:
            raise ConfigurationError("max_attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._random = random.Random()
        self._http = httpx.Client(
            # Connecting is quick when the host is up; the portal is slow to produce bodies, not to accept sockets.
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            event_hooks=dict(event_hooks or {}),
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def package_show(self, package: str) -> dict[str, Any]:
        """Return the ``result`` of ``package_show`` for a package id or slug."""
        return self._action("package_show", id=package)

    def resource(self, package: str, resource_id: str) -> CkanResource:
        """Resolve a resource (and its current download URL) through ``package_show``."""
        result = self.package_show(package)
        for entry in result.get("resources", []):
            if entry.get("id") == resource_id:
                return CkanResource.from_package(result, entry)
        raise CkanError(f"resource {resource_id} not found in package {package!r}")

    def download(
        self,
        url: str,
        sink: BinaryIO,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        chunk_size: int = 1 << 20,
    ) -> DownloadResult:
        """Stream ``url`` into ``sink``; with ``etag``/``last_modified`` a 304 writes nothing (``not_modified``).

        Raises CkanError on any failure, including a body cut short. A transfer cut mid-stream is retried only
        into a seekable sink, which is first truncated back to its starting position; a non-seekable sink that
        already received bytes makes the cut final. After an error, discard whatever the sink holds.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        start = sink.tell() if sink.seekable() else None

        def consume(response: httpx.Response) -> DownloadResult:
            if response.status_code == 304:
                return DownloadResult(
                    status="not_modified",
                    sha256=None,
                    size=None,
                    etag=response.headers.get("ETag", etag),
                    last_modified=response.headers.get("Last-Modified", last_modified),
                    content_type=None,
                    is_zip=False,
                    url=str(response.url),
                )
            digest, size, head = hashlib.sha256(), 0, b""
            try:
                for chunk in response.iter_bytes(chunk_size):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    head += chunk[: len(ZIP_MAGIC) - len(head)]
                _check_complete(response)
            except _TRANSIENT_ERRORS as exc:
                if size and start is None:
                    raise CkanError(
                        f"download of {_safe_url(response.url)} cut after {size} bytes ({_describe(exc)}); "
                        "cannot retry into a non-seekable sink"
                    ) from exc
                if start is not None:
                    sink.seek(start)
                    sink.truncate()
                raise
            return DownloadResult(
                status="downloaded",
                sha256=digest.hexdigest(),
                size=size,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type"),
                is_zip=head == ZIP_MAGIC,
                url=str(response.url),
            )

        return self._request(url, consume, headers=headers)

    def probe(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> bool:
        """Whether ``url`` changed since ``etag``/``last_modified``: a conditional GET whose body is never read."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._request(url, lambda response: response.status_code != 304, headers=headers)

    def _action(self, action: str, **params: str) -> dict[str, Any]:
        """Call a CKAN action and unwrap its ``{"success": ..., "result": ...}`` envelope."""

        def parse(response: httpx.Response) -> dict[str, Any]:
            response.read()  # a body cut short raises here and is retried
            try:
                body = response.json()
            except ValueError as exc:
                raise CkanError(f"{action} at {_safe_url(response.url)} did not return JSON") from exc
            if not isinstance(body, dict) or not body.get("success"):
                raise CkanError(f"{action} at {_safe_url(response.url)} failed: {_ckan_error(body)}")
            return body["result"]

        return self._request(f"{self.base_url}/api/3/action/{action}", parse, params=params)

    def _request(
        self,
        url: str,
        consume: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """GET with retries; ``consume`` reads the (streamed) response of a 2xx/304 answer."""
        shown = _safe_url(httpx.URL(url, params=params))
        last_cause = "none"
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                with self._http.stream("GET", url, params=params, headers=headers) as response:
                    if response.status_code in RETRYABLE_STATUS:
                        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                        last_cause = f"HTTP {response.status_code}"
                    elif response.is_success or response.status_code == 304:
                        return consume(response)
                    else:
                        raise CkanError(f"HTTP {response.status_code} for GET {shown}{_error_detail(response)}")
            except _TRANSIENT_ERRORS as exc:
                last_cause = _describe(exc)
            if attempt < self.max_attempts:
                delay = self._backoff(attempt, retry_after)
                log.warning(
                    "GET %s failed (%s), attempt %d/%d; retrying in %.1fs",
                    shown,
                    last_cause,
                    attempt,
                    self.max_attempts,
                    delay,
                )
                self._sleep(delay)
        raise CkanError(f"GET {shown} failed after {self.max_attempts} attempts; last cause: {last_cause}")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Server-given Retry-After wins; otherwise full jitter over an exponentially growing window."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        return self._random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


def _check_complete(response: httpx.Response) -> None:
    """Guard against short bodies the transport let through; counts raw bytes, so gzip doesn't confuse it."""
    expected = response.headers.get("Content-Length")
    if expected and expected.isdigit() and response.num_bytes_downloaded < int(expected):
        raise _IncompleteBody(f"received {response.num_bytes_downloaded} of {expected} bytes")


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _parse_ckan_timestamp(value: str | None) -> datetime | None:
    """CKAN writes naive ISO timestamps that are in UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _ckan_error(body: object) -> str:
    """Render a CKAN ``error`` object (``{"message": ..., "__type": ...}``) compactly."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind = error.get("__type", "Error")
        details = error.get("message") or {k: v for k, v in error.items() if k != "__type"}
        return f"{kind}: {details}"
    return str(error or "unknown error")[:200]


def _error_detail(response: httpx.Response) -> str:
    """Short reason from an error body, CKAN JSON if possible."""
    response.read()
    try:
        return f": {_ckan_error(response.json())}"
    except ValueError:
        return ""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _safe_url(url: httpx.URL | str) -> str:
    """Drop credentials from a URL before it goes into a message."""
    return str(httpx.URL(url).copy_with(username=None, password=None))
