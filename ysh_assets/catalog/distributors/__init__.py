"""The distributor registry: one adapter module per distributor, each reading the file layouts it knows.

Every adapter exposes `DISTRIBUTOR` (its registry name), `LAYOUTS` (what it can read, for error messages) and
`read(path) -> CatalogBatch`. `read_catalog` is the one entry point for the assets and `ysh parse-catalog`:
it refuses unknown distributors; every adapter reads its file through `fields.read_text`, which refuses files over
`fields.MAX_FILE_BYTES` before reading them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ysh_assets.catalog.distributors import fortlev, fotus, neosolar, odex, optimussun, solfacil
from ysh_assets.catalog.records import CatalogBatch, CatalogFormatError

ADAPTERS: dict[str, ModuleType] = {
    module.DISTRIBUTOR: module for module in (solfacil, neosolar, fotus, fortlev, odex, optimussun)
}
DISTRIBUTORS: tuple[str, ...] = tuple(sorted(ADAPTERS))


class UnknownDistributorError(CatalogFormatError):
    """No adapter is registered under that name."""


def read_catalog(distributor: str, path: str | Path) -> CatalogBatch:
    """The file read by its distributor's adapter: products, kits and rejected records."""
    adapter = ADAPTERS.get(distributor.strip().lower())
    if adapter is None:
        raise UnknownDistributorError(f"unknown distributor {distributor!r}: expected one of {', '.join(DISTRIBUTORS)}")
    return adapter.read(Path(path))
