"""Where distributor files come from: the object store's `catalogs/<distributor>/` prefix, or the bundled samples.

A day's snapshot of a distributor is the newest dated drop on or before that day
(`catalogs/<distributor>/<YYYY-MM-DD>/<file>`), else the undated files right under the prefix (the current
ones). So a backfill of past days re-reads what was dropped for them, and a distributor whose files are simply
replaced in place still gets a snapshot every day.
"""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import dagster as dg
import httpx

from ysh_assets.catalog.fields import MAX_FILE_BYTES
from ysh_assets.io_managers.object_store import ObjectStore, safe_segment, sha256_of_file
from ysh_assets.ops.quotas import GuardedResource, SourceUnavailable

CATALOG_PREFIX = "catalogs/"
CERTIFICATION_PREFIX = "certifications/"
BUNDLED_CATALOGS = Path(__file__).resolve().parent.parent / "sample_data" / "catalog"
BUNDLED_CERTIFICATIONS = Path(__file__).resolve().parent.parent / "sample_data" / "certifications"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CatalogFile:
    name: str  # where it came from: the object key, or the bundled file's name
    path: Path  # a local copy, valid inside `CatalogSource.files()`
    sha256: str


def drop_of(key: str) -> tuple[str, str | None] | None:
    """(distributor folder, day of its dated folder or None when undated) of an object under `catalogs/`; None
    for any other layout (such objects belong to no snapshot)."""
    parts = PurePosixPath(key[len(CATALOG_PREFIX) :]).parts if key.startswith(CATALOG_PREFIX) else ()
    if len(parts) == 2:
        return parts[0], None
    if len(parts) == 3 and _DAY.match(parts[1]):
        return parts[0], parts[1]
    return None


def snapshot_keys(keys: list[str], distributor: str, day: date) -> list[str]:
    """The object keys of the distributor's snapshot for `day` (see the module docstring)."""
    dated: dict[str, list[str]] = {}
    current = []
    for key in keys:
        drop = drop_of(key)
        if drop is None or drop[0] != distributor:
            continue
        if drop[1] is None:
            current.append(key)
        elif drop[1] <= day.isoformat():
            dated.setdefault(drop[1], []).append(key)
    return sorted(dated[max(dated)]) if dated else sorted(current)


class CatalogSource(GuardedResource):
    """Distributor files for a (day, distributor) partition of the catalog assets: the URLs configured for the
    distributor (`YSH_CATALOG_URLS`, fetched when the day is materialized, each request counted against the
    `catalog:<distributor>` quota and breaker), else its object-store files."""

    object_store: dg.ResourceDependency[ObjectStore]
    bundled: bool = False  # YSH_SOURCES=bundled: the real samples shipped with the package, for offline runs
    urls: dict[str, list[str]] = {}
    timeout_seconds: float = 30.0

    @contextmanager
    def files(self, distributor: str, day: date) -> Iterator[list[CatalogFile]]:
        if not self.bundled and self.urls.get(distributor):
            with self._fetched(distributor, self.urls[distributor]) as files:
                yield files
            return
        if self.bundled:
            folder = BUNDLED_CATALOGS / distributor
            paths = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            yield [CatalogFile(p.name, p, sha256_of_file(p)[0]) for p in paths]
            return
        keys = [info.key for info in self.object_store.list_objects(f"{CATALOG_PREFIX}{distributor}/")]
        with self._downloaded(snapshot_keys(keys, distributor, day)) as files:
            yield files

    @contextmanager
    def certification_files(self) -> Iterator[list[CatalogFile]]:
        """The certification lists shipped with the package (the CEC module and inverter lists, an INMETRO
        export), then, unless bundled, the exports dropped under the object store's `certifications/`."""
        bundled = [
            CatalogFile(p.name, p, sha256_of_file(p)[0])
            for p in sorted(BUNDLED_CERTIFICATIONS.iterdir())
            if p.is_file()
        ]
        if self.bundled:
            yield bundled
            return
        keys = sorted(info.key for info in self.object_store.list_objects(CERTIFICATION_PREFIX))
        with self._downloaded(keys) as dropped:
            yield bundled + dropped

    @contextmanager
    def _fetched(self, distributor: str, urls: list[str]) -> Iterator[list[CatalogFile]]:
        """The files at `urls`, streamed to local copies; a file over MAX_FILE_BYTES, an HTTP error, a spent
        quota or an open breaker fails the run naming the URL (a partial download is never read)."""
        guard = self.guard(f"catalog:{distributor}")
        with (
            tempfile.TemporaryDirectory(prefix="ysh-catalog-") as folder,
            httpx.Client(
                timeout=self.timeout_seconds, follow_redirects=True, event_hooks=guard.httpx_hooks()
            ) as client,
        ):
            files = []
            for index, url in enumerate(urls):
                path = Path(folder) / f"{index}-{safe_segment(PurePosixPath(urlsplit(url).path).name or 'download')}"
                try:
                    with guard.call((httpx.HTTPError,)), client.stream("GET", url) as response, path.open("wb") as out:
                        response.raise_for_status()
                        size = 0
                        for chunk in response.iter_bytes(1 << 20):
                            size += len(chunk)
                            if size > MAX_FILE_BYTES:
                                raise dg.Failure(
                                    f"{url}: more than {MAX_FILE_BYTES} bytes, more than a catalog file holds"
                                )
                            out.write(chunk)
                except SourceUnavailable as skipped:
                    raise dg.Failure(f"{url}: not fetched: {skipped.reason}", allow_retries=False) from None
                except httpx.HTTPError as error:
                    raise dg.Failure(f"{url}: could not be fetched ({error})", allow_retries=True) from None
                files.append(CatalogFile(url, path, sha256_of_file(path)[0]))
            yield files

    @contextmanager
    def _downloaded(self, keys: list[str]) -> Iterator[list[CatalogFile]]:
        """Local copies of the objects, removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="ysh-catalog-") as folder:
            files = []
            for index, key in enumerate(keys):
                path = Path(folder) / f"{index}-{safe_segment(PurePosixPath(key).name)}"
                self.object_store.download(key, path)
                files.append(CatalogFile(key, path, sha256_of_file(path)[0]))
            yield files
