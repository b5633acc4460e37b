"""Loopback CKAN-compatible server standing in for the ANEEL portal in tests, the offline demo and benchmarks.

It answers ``package_show`` / ``resource_show`` (by id or slug) in the real CKAN shape, with resource URLs
pointing at itself, and streams resources from local files with ETag / Last-Modified and 304 handling. Because
the real portal is flaky, faults can be injected at run time per path (status codes, Retry-After, hangs, bodies
cut mid-stream), and ``publish`` simulates a new publication.

    with CkanServer([tariffs_package(csv_path)]) as server:
        client = CkanClient(server.base_url)
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, Literal, Self
from urllib.parse import parse_qs, urlsplit

from ysh_assets.aneel.ckan import (
    GD_UNITS_PACKAGE_ID,
    GD_UNITS_PACKAGE_SLUG,
    GD_UNITS_RESOURCE_ID,
    TARIFFS_PACKAGE_ID,
    TARIFFS_PACKAGE_SLUG,
    TARIFFS_RESOURCE_ID,
)

__all__ = ["CkanServer", "RecordedRequest", "ServedPackage", "ServedResource", "gd_units_package", "tariffs_package"]

API_PREFIX = "/api/3/action/"
DOWNLOAD_PATH = re.compile(r"/dataset/(?P<package>[^/]+)/resource/(?P<resource>[^/]+)/download/(?P<file>[^/]+)")
CHUNK = 1 << 20

# Real package_show result of the tariffs package (2026-06-09), trimmed: the fields the server fills per package
# are overwritten, the long organization description is shortened, tags/groups/extras emptied.
_PACKAGE_TEMPLATE: dict[str, Any] = {
    "author": "SGT/ANEEL",
    "author_email": "master.sgt@aneel.gov.br",
    "creator_user_id": "41156dc5-1418-42dc-9b77-26e8a26604f0",
    "id": "",
    "isopen": True,
    "license_id": "odc-odbl",
    "license_title": "Open Data Commons Open Database License (ODbL)",
    "license_url": "http://www.opendefinition.org/licenses/odc-odbl",
    "maintainer": "",
    "maintainer_email": "",
    "metadata_created": "2026-05-27T15:59:47.289669",
    "metadata_modified": "",
    "name": "",
    "notes": "",
    "num_resources": 0,
    "num_tags": 0,
    "organization": {
        "id": "e43edce4-1514-4493-8a22-fe11fa98ef9e",
        "name": "agencia-nacional-de-energia-eletrica",
        "title": "Agência Nacional de Energia Elétrica",
        "type": "organization",
        "description": "A Agência Nacional de Energia Elétrica (ANEEL) ...",
        "image_url": "2026-05-29-130337.442419Aneel.png",
        "created": "2026-05-27T12:53:06.102274",
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    },
    "owner_org": "e43edce4-1514-4493-8a22-fe11fa98ef9e",
    "private": False,
    "state": "active",
    "title": "",
    "type": "dataset",
    "url": "",
    "version": "1.0",
    "extras": [],
    "groups": [],
    "resources": [],
    "tags": [],
    "relationships_as_subject": [],
    "relationships_as_object": [],
    "tracking_summary": {"total": 0, "recent": 0},
}


@dataclass
class ServedResource:
    """A resource backed by a local file; ``last_modified`` defaults to the file mtime."""

    resource_id: str
    name: str
    path: Path
    format: str = "CSV"
    mimetype: str = "text/csv"
    last_modified: datetime | None = None
    generation: int = 0  # bumped by publish() so the ETag changes even if size and mtime don't

    def modified(self) -> datetime:
        if self.last_modified is not None:
            return self.last_modified.astimezone(UTC)
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)

    def etag(self) -> str:
        stat = self.path.stat()
        identity = f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self.modified()}|{self.generation}"
        return f'"{hashlib.sha256(identity.encode()).hexdigest()[:32]}"'


@dataclass
class ServedPackage:
    """A package as the server publishes it; the rest of the CKAN fields come from a real-response template."""

    package_id: str
    name: str  # slug
    title: str
    resources: list[ServedResource]
    notes: str = ""


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received, for assertions on retries and conditional headers."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased


@dataclass(frozen=True)
class _Fault:
    kind: Literal["status", "hang", "cut"]
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0


def tariffs_package(csv_path: Path, *, last_modified: datetime | None = None) -> ServedPackage:
    """The tracked tariffs package with its CSV resource served from ``csv_path``."""
    name = "tarifas-homologadas-distribuidoras-energia-eletrica.csv"
    resource = ServedResource(TARIFFS_RESOURCE_ID, name, Path(csv_path), last_modified=last_modified)
    title = "Tarifas de aplicação das distribuidoras de energia elétrica"
    return ServedPackage(TARIFFS_PACKAGE_ID, TARIFFS_PACKAGE_SLUG, title, [resource])


def gd_units_package(zip_path: Path, *, last_modified: datetime | None = None) -> ServedPackage:
    """The tracked GD units package; like the portal, it serves a ZIP under the ``.csv`` name."""
    name = "empreendimento-geracao-distribuida.csv"
    resource = ServedResource(GD_UNITS_RESOURCE_ID, name, Path(zip_path), last_modified=last_modified)
    title = "Relação de empreendimentos de Geração Distribuída"
    return ServedPackage(GD_UNITS_PACKAGE_ID, GD_UNITS_PACKAGE_SLUG, title, [resource])


class CkanServer:
    """CKAN look-alike on 127.0.0.1 with an ephemeral port, serving in a background thread."""

    def __init__(self, packages: Iterable[ServedPackage]) -> None:
        self.packages = list(packages)
        self.requests: list[RecordedRequest] = []
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._httpd = _HttpServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._stopping.set()  # releases hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "use CkanServer as a context manager"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def download_path(self, resource_id: str) -> str:
        """Path of a resource's download URL, as used for fault injection."""
        package, resource = self._require_resource(resource_id)
        return f"/dataset/{package.package_id}/resource/{resource.resource_id}/download/{resource.name}"

    # Fault injection: each applies to the next `times` requests whose path equals `path` exactly.

    def fail_next(self, path: str, times: int = 1, *, status: int = 500, retry_after: str | None = None) -> None:
        self._add_faults(path, times, _Fault("status", status=status, retry_after=retry_after))

    def hang_next(self, path: str, times: int = 1, *, seconds: float = 5.0) -> None:
        """Say nothing for ``seconds`` (longer than the client timeout), then drop the connection."""
        self._add_faults(path, times, _Fault("hang", seconds=seconds))

    def cut_next(self, path: str, times: int = 1) -> None:
        """Announce the full Content-Length, send half the body, close the connection."""
        self._add_faults(path, times, _Fault("cut"))

    def publish(self, resource_id: str, *, path: Path | None = None, last_modified: datetime | None = None) -> None:
        """Simulate a new publication: optionally a new file and/or a new last_modified."""
        with self._lock:
            _, resource = self._require_resource(resource_id)
            resource.path = Path(path) if path is not None else resource.path
            resource.last_modified = last_modified or resource.last_modified
            resource.generation += 1

    def _add_faults(self, path: str, times: int, fault: _Fault) -> None:
        with self._lock:
            self._faults[path].extend([fault] * times)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _find_package(self, key: str) -> ServedPackage | None:
        return next((p for p in self.packages if key in (p.package_id, p.name)), None)

    def _find_resource(self, resource_id: str) -> tuple[ServedPackage, ServedResource] | None:
        for package in self.packages:
            for resource in package.resources:
                if resource.resource_id == resource_id:
                    return package, resource
        return None

    def _require_resource(self, resource_id: str) -> tuple[ServedPackage, ServedResource]:
        found = self._find_resource(resource_id)
        if found is None:
            raise KeyError(f"no served resource {resource_id}")
        return found

    def package_dict(self, package: ServedPackage) -> dict[str, Any]:
        """``package_show`` result in the real CKAN shape."""
        resources = [self.resource_dict(package, r, position) for position, r in enumerate(package.resources)]
        result = copy.deepcopy(_PACKAGE_TEMPLATE)
        result.update(
            id=package.package_id,
            name=package.name,
            title=package.title,
            notes=package.notes,
            url=self.base_url,
            resources=resources,
            num_resources=len(resources),
            metadata_modified=max((r["metadata_modified"] for r in resources), default=result["metadata_created"]),
        )
        return result

    def resource_dict(self, package: ServedPackage, resource: ServedResource, position: int = 0) -> dict[str, Any]:
        modified = _ckan_timestamp(resource.modified())
        return {
            "cache_last_updated": None,
            "cache_url": None,
            "created": modified,
            "datastore_active": False,
            "datastore_contains_all_records_of_source_file": False,
            "description": None,
            "format": resource.format,
            "hash": "",
            "id": resource.resource_id,
            "last_modified": modified,
            "metadata_modified": modified,
            "mimetype": resource.mimetype,
            "mimetype_inner": None,
            "name": resource.name,
            "package_id": package.package_id,
            "position": position,
            "resource_type": None,
            "size": resource.path.stat().st_size,
            "state": "active",
            "tracking_summary": {"total": 0, "recent": 0},
            "url": self.base_url + self.download_path(resource.resource_id),
            "url_type": "upload",
        }


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ckan: CkanServer) -> None:
        self.ckan = ckan
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response (timeouts, tests) are expected; stay quiet about them."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx pools connections
    server: _HttpServer
    timeout = 30  # idle keep-alive connections don't pin threads forever

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        ckan = self.server.ckan
        url = urlsplit(self.path)
        ckan._record(
            RecordedRequest(
                url.path, parse_qs(url.query), {name.lower(): value for name, value in self.headers.items()}
            )
        )
        fault = ckan._take_fault(url.path)
        if fault and fault.kind == "hang":
            ckan._stopping.wait(fault.seconds)
            self.close_connection = True
            return
        if fault and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, b"injected failure", "text/plain", headers)
            return
        cut = fault is not None
        if url.path.startswith(API_PREFIX):
            self._api(url.path.removeprefix(API_PREFIX), parse_qs(url.query), cut)
        elif match := DOWNLOAD_PATH.fullmatch(url.path):
            self._download(match["resource"], cut)
        else:
            self._send(404, b"Not found", "text/plain")

    def _api(self, action: str, query: dict[str, list[str]], cut: bool) -> None:
        ckan = self.server.ckan
        key = query.get("id", [""])[0]
        help_url = f"{ckan.base_url}{API_PREFIX}help_show?name={action}"
        status, body = 200, {"help": help_url, "success": True}
        if action not in ("package_show", "resource_show"):
            status, body["error"] = 400, {"__type": "Bad Request", "message": f"Action name not known: {action}"}
        elif not key:
            status, body["error"] = 409, {"__type": "Validation Error", "id": ["Missing value"]}
        elif action == "package_show" and (package := ckan._find_package(key)):
            body["result"] = ckan.package_dict(package)
        elif action == "resource_show" and (found := ckan._find_resource(key)):
            body["result"] = ckan.resource_dict(*found)
        else:
            status, body["error"] = 404, {"__type": "Not Found Error", "message": "Not found"}
        if status != 200:
            body["success"] = False
        self._send(status, json.dumps(body).encode(), "application/json;charset=utf-8", cut=cut)

    def _download(self, resource_id: str, cut: bool) -> None:
        found = self.server.ckan._find_resource(resource_id)
        if found is None:
            self._send(404, b"Not found", "text/plain")
            return
        resource = found[1]
        etag, modified = resource.etag(), resource.modified()
        headers = {"ETag": etag, "Last-Modified": format_datetime(modified.replace(microsecond=0), usegmt=True)}
        if _not_modified(self.headers, etag, modified):
            self.send_response(304)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        with resource.path.open("rb") as body:
            self._send(200, body, resource.mimetype, headers, cut=cut, length=resource.path.stat().st_size)

    def _send(
        self,
        status: int,
        body: bytes | BinaryIO,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        cut: bool = False,
        length: int | None = None,
    ) -> None:
        """Stream a body from memory or disk; with ``cut`` stop halfway and drop the connection."""
        if isinstance(body, bytes):
            body, length = BytesIO(body), len(body)
        assert length is not None
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        remaining = length // 2 if cut else length
        while remaining > 0 and (chunk := body.read(min(CHUNK, remaining))):
            self.wfile.write(chunk)
            remaining -= len(chunk)
        if cut:
            self.wfile.flush()
            self.close_connection = True


def _not_modified(request_headers: Mapping[str, str], etag: str, modified: datetime) -> bool:
    """RFC 9110 precedence: If-None-Match decides alone when present."""
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request_headers.get("If-Modified-Since")
    if not if_modified_since:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return int(modified.timestamp()) <= since.timestamp()


def _ckan_timestamp(value: datetime) -> str:
    """CKAN writes naive ISO timestamps in UTC."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()
