"""CKAN client against the loopback CKAN server: real HTTP on 127.0.0.1, faults injected server-side."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from ysh_assets.aneel.ckan import (
    GD_UNITS_PACKAGE_ID,
    GD_UNITS_PACKAGE_SLUG,
    GD_UNITS_RESOURCE_ID,
    TARIFFS_PACKAGE_ID,
    TARIFFS_PACKAGE_SLUG,
    TARIFFS_RESOURCE_ID,
    CkanClient,
    CkanError,
    CkanResource,
)
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package

FIXTURES = Path(__file__).parent.parent / "fixtures" / "aneel"
PACKAGE_SHOW = "/api/3/action/package_show"
PUBLISHED = datetime(2026, 6, 9, 10, 1, 3, 809785, tzinfo=UTC)


@pytest.fixture
def real_tariffs_package() -> dict:
    """Real package_show response of the tariffs package (2026-06-09)."""
    return json.loads((FIXTURES / "package_show_tarifas_2026-06-09.json").read_text(encoding="utf-8"))["result"]


@pytest.fixture
def tariffs_csv(tmp_path: Path) -> Path:
    """A few megabytes of tariff-like CSV, enough to span many chunks."""
    path = tmp_path / "tarifas.csv"
    row = "2026-06-09;EQUATORIAL AL;12272084000100;B1;Residencial;{i};1,85;312,45\r\n"
    path.write_bytes("".join(row.format(i=i) for i in range(80_000)).encode())
    return path


@pytest.fixture
def gd_zip(tmp_path: Path) -> Path:
    path = tmp_path / "gd.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "empreendimento-geracao-distribuida.csv", '"CodEmpreendimento";"SigUF"\r\n"GD.AC.000.001.234";"AC"\r\n'
        )
    return path


@pytest.fixture
def server(tariffs_csv: Path, gd_zip: Path) -> Iterator[CkanServer]:
    with CkanServer([tariffs_package(tariffs_csv, last_modified=PUBLISHED), gd_units_package(gd_zip)]) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: CkanServer, sleeps: list[float]) -> Iterator[CkanClient]:
    with CkanClient(server.base_url, timeout=5.0, max_attempts=4, sleep=sleeps.append) as ckan:
        yield ckan


def hits(server: CkanServer, path: str) -> int:
    return sum(request.path == path for request in server.requests)


class NonSeekableSink(io.RawIOBase):
    """A pipe-like sink: once bytes are written they cannot be taken back."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


# --- metadata -----------------------------------------------------------------------------------------------------


def test_real_package_show_resource_parses(real_tariffs_package: dict) -> None:
    csv = next(r for r in real_tariffs_package["resources"] if r["id"] == TARIFFS_RESOURCE_ID)
    resource = CkanResource.from_package(real_tariffs_package, csv)
    assert resource.package_name == TARIFFS_PACKAGE_SLUG
    assert resource.size == 83_233_207
    assert resource.last_modified == PUBLISHED
    assert resource.hash == "8e7cd3970f0366c46ff27c0ea88d5017"
    assert resource.url.endswith(f"/resource/{TARIFFS_RESOURCE_ID}/download/{resource.name}")
    pdf = CkanResource.from_package(real_tariffs_package, real_tariffs_package["resources"][0])
    assert pdf.hash is None


def test_server_answers_in_the_real_ckan_shape(client: CkanClient, real_tariffs_package: dict) -> None:
    served = client.package_show(TARIFFS_PACKAGE_ID)
    assert served.keys() == real_tariffs_package.keys()
    assert served["organization"].keys() == real_tariffs_package["organization"].keys()
    plain_real_resource = real_tariffs_package["resources"][2]  # the XML: no DataStore extras
    assert served["resources"][0].keys() == plain_real_resource.keys()
    assert served["resources"][0]["last_modified"] == "2026-06-09T10:01:03.809785"


@pytest.mark.parametrize("key", [TARIFFS_PACKAGE_ID, TARIFFS_PACKAGE_SLUG])
def test_package_show_by_id_or_slug(client: CkanClient, key: str) -> None:
    result = client.package_show(key)
    assert (result["id"], result["name"]) == (TARIFFS_PACKAGE_ID, TARIFFS_PACKAGE_SLUG)


def test_resource_show_by_id(server: CkanServer) -> None:
    body = httpx.get(f"{server.base_url}/api/3/action/resource_show", params={"id": GD_UNITS_RESOURCE_ID}).json()
    assert body["success"] and body["result"]["package_id"] == GD_UNITS_PACKAGE_ID


def test_download_url_is_resolved_through_package_show(client: CkanClient, server: CkanServer) -> None:
    before = client.resource(GD_UNITS_PACKAGE_SLUG, GD_UNITS_RESOURCE_ID)
    assert before.url == f"{server.base_url}{server.download_path(GD_UNITS_RESOURCE_ID)}"
    assert before.last_modified is not None and before.last_modified.tzinfo is UTC
    server.packages[1].resources[0].name = "empreendimento-geracao-distribuida-2026-09.csv"  # the portal moved it
    after = client.resource(GD_UNITS_PACKAGE_ID, GD_UNITS_RESOURCE_ID)
    assert after.url != before.url and after.url.endswith("/download/empreendimento-geracao-distribuida-2026-09.csv")
    assert client.download(after.url, io.BytesIO()).status == "downloaded"


def test_unknown_resource_in_package(client: CkanClient) -> None:
    with pytest.raises(CkanError, match="not found in package"):
        client.resource(TARIFFS_PACKAGE_ID, GD_UNITS_RESOURCE_ID)


# --- retries ------------------------------------------------------------------------------------------------------


def test_retries_server_errors_then_succeeds(client: CkanClient, server: CkanServer, sleeps: list[float]) -> None:
    server.fail_next(PACKAGE_SHOW, 2, status=500)
    assert client.package_show(TARIFFS_PACKAGE_ID)["id"] == TARIFFS_PACKAGE_ID
    assert hits(server, PACKAGE_SHOW) == 3
    assert len(sleeps) == 2 and all(0 <= delay <= 2.0 for delay in sleeps)  # full jitter within 1s, 2s windows


def test_429_retry_after_seconds_is_honoured(client: CkanClient, server: CkanServer, sleeps: list[float]) -> None:
    server.fail_next(PACKAGE_SHOW, status=429, retry_after="7")
    client.package_show(TARIFFS_PACKAGE_ID)
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured_and_capped(server: CkanServer, sleeps: list[float]) -> None:
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    in_1h = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.fail_next(PACKAGE_SHOW, status=503, retry_after=in_30s)
    server.fail_next(PACKAGE_SHOW, status=503, retry_after=in_1h)
    with CkanClient(server.base_url, backoff_max=120.0, sleep=sleeps.append) as client:
        client.package_show(TARIFFS_PACKAGE_ID)
    assert 28 <= sleeps[0] <= 30 and sleeps[1] == 120.0


def test_timeout_then_success(server: CkanServer, sleeps: list[float]) -> None:
    path = server.download_path(TARIFFS_RESOURCE_ID)
    server.hang_next(path, seconds=4.0)
    with CkanClient(server.base_url, timeout=1.0, sleep=sleeps.append) as client:
        result = client.download(client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url, io.BytesIO())
    assert result.status == "downloaded" and hits(server, path) == 2 and len(sleeps) == 1


def test_permanent_failure_gives_up_after_max_attempts(
    client: CkanClient, server: CkanServer, sleeps: list[float]
) -> None:
    server.fail_next(PACKAGE_SHOW, 10, status=503)
    with pytest.raises(CkanError, match=r"failed after 4 attempts; last cause: HTTP 503"):
        client.package_show(TARIFFS_PACKAGE_ID)
    assert hits(server, PACKAGE_SHOW) == 4 and len(sleeps) == 3


def test_connection_refused_is_retried_then_reported(sleeps: list[float]) -> None:
    with CkanServer([]) as gone:
        base_url = gone.base_url
    client = CkanClient(base_url, max_attempts=2, sleep=sleeps.append)
    with client, pytest.raises(CkanError, match=r"2 attempts; last cause: ConnectError"):
        client.package_show(TARIFFS_PACKAGE_ID)


def test_404_fails_fast(client: CkanClient, server: CkanServer, sleeps: list[float]) -> None:
    with pytest.raises(CkanError, match=r"HTTP 404 for GET .*package_show\?id=no-such-package: Not Found Error"):
        client.package_show("no-such-package")
    with pytest.raises(CkanError, match="HTTP 404"):
        client.download(f"{server.base_url}/dataset/x/resource/y/download/z.csv", io.BytesIO())
    assert sleeps == [] and hits(server, PACKAGE_SHOW) == 1


def test_error_messages_hide_credentials(server: CkanServer) -> None:
    secret_url = server.base_url.replace("http://", "http://user:s3cret@")
    with CkanClient(secret_url, max_attempts=1) as client, pytest.raises(CkanError) as raised:
        client.package_show("no-such-package")
    assert "s3cret" not in str(raised.value)


# --- downloads ----------------------------------------------------------------------------------------------------


def test_streamed_download_digest_and_size(client: CkanClient, tariffs_csv: Path) -> None:
    sink = io.BytesIO()
    resource = client.resource(TARIFFS_PACKAGE_SLUG, TARIFFS_RESOURCE_ID)
    result = client.download(resource.url, sink, chunk_size=64 * 1024)
    content = tariffs_csv.read_bytes()
    assert len(content) > 4_000_000
    assert result.status == "downloaded" and result.sha256 == hashlib.sha256(content).hexdigest()
    assert result.size == len(content) == resource.size and sink.getvalue() == content
    assert result.content_type == "text/csv" and not result.is_zip
    assert result.last_modified == "Tue, 09 Jun 2026 10:01:03 GMT" and result.etag


def test_zip_served_under_csv_name_is_detected(client: CkanClient, gd_zip: Path) -> None:
    resource = client.resource(GD_UNITS_PACKAGE_ID, GD_UNITS_RESOURCE_ID)
    assert resource.url.endswith(".csv")
    result = client.download(resource.url, io.BytesIO())
    assert result.is_zip and result.content_type == "text/csv"
    assert result.sha256 == hashlib.sha256(gd_zip.read_bytes()).hexdigest()


def test_cut_stream_is_never_a_success(client: CkanClient, server: CkanServer, tmp_path: Path) -> None:
    url = client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url
    server.cut_next(server.download_path(TARIFFS_RESOURCE_ID), 4)
    with (tmp_path / "partial").open("w+b") as sink, pytest.raises(CkanError, match=r"4 attempts.*RemoteProtocolError"):
        client.download(url, sink)
    assert (tmp_path / "partial").stat().st_size == 0  # rewound after each cut


def test_cut_stream_restarts_cleanly_in_a_seekable_sink(
    client: CkanClient, server: CkanServer, tariffs_csv: Path
) -> None:
    url = client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url
    server.cut_next(server.download_path(TARIFFS_RESOURCE_ID))
    sink = io.BytesIO(b"header kept by the caller|")
    sink.seek(0, io.SEEK_END)
    result = client.download(url, sink)
    content = tariffs_csv.read_bytes()
    assert sink.getvalue() == b"header kept by the caller|" + content
    assert result.size == len(content) and result.sha256 == hashlib.sha256(content).hexdigest()


def test_cut_stream_into_non_seekable_sink_is_final(client: CkanClient, server: CkanServer) -> None:
    url = client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url
    path = server.download_path(TARIFFS_RESOURCE_ID)
    server.cut_next(path)
    with pytest.raises(CkanError, match="non-seekable"):
        client.download(url, NonSeekableSink())
    assert hits(server, path) == 1


def test_conditional_download(client: CkanClient, server: CkanServer, tariffs_csv: Path) -> None:
    url = client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url
    first = client.download(url, io.BytesIO())

    for validators in ({"etag": first.etag}, {"last_modified": first.last_modified}):
        sink = io.BytesIO()
        again = client.download(url, sink, **validators)
        assert again.status == "not_modified" and sink.getvalue() == b"" and again.sha256 is None
    assert server.requests[-2].headers["if-none-match"] == first.etag
    assert server.requests[-1].headers["if-modified-since"] == first.last_modified

    republished = tariffs_csv.with_name("tarifas-2026-06-16.csv")
    republished.write_bytes(tariffs_csv.read_bytes() + b"2026-06-16;NOVA;1;B1;Residencial;0;1,90;300,00\r\n")
    server.publish(TARIFFS_RESOURCE_ID, path=republished, last_modified=PUBLISHED + timedelta(days=7))
    url = client.resource(TARIFFS_PACKAGE_ID, TARIFFS_RESOURCE_ID).url
    for validators in ({"etag": first.etag}, {"last_modified": first.last_modified}):
        changed = client.download(url, io.BytesIO(), **validators)
        assert changed.status == "downloaded" and changed.etag != first.etag
        assert changed.sha256 == hashlib.sha256(republished.read_bytes()).hexdigest()
