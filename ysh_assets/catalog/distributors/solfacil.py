"""Solfácil (loja.solfacil.com.br): the raw browser scrape CSV and the processed JSON lists.

Two layouts, told apart by content (never by file name):

* raw scrape CSV — columns are the page's CSS classes: `loaded src` (image URL), `title-left` (brand),
  `title-right` (model), `subtitle` (the product title), `price` (`R$ 1.347,65`);
* processed JSON list — `id, name, manufacturer, category, price, image, source, availability, description,
  pricing{price, currency}` (the same shape ODEX's processed files use: see `read_processed_json`).

Decisions the rules below encode:

* name: `BRAND MODEL` (as the processed JSON writes it), the product title when brand and model are empty;
  description: the product title.
* product_id: the JSON `id`; in the scrape the store's product number from the image URL
  (`…/contents/products/600340/images/…`), else a sha1 of distributor + name + description (16 hex).
* Shifted records (in `solfacil-panels.json` the price holds the product title and the name an image URL plus
  the brand) are rejected, not recovered: title, brand and model could be read back from the shifted fields but
  the price is not in the record at all, and a priced layout's product without its price is not one we load.
* The processed JSON's `image` is a path inside the exporting project (`/catalog/images/…`), not a URL:
  image_url keeps http(s) URLs only (the raw record keeps the path).
* A manufacturer that is the distributor itself (`SOLFACIL`) is a placeholder: the brand named in the title
  replaces it, or None when the title names none.
* An absent price is None (the product is kept); `Indisponível`-style prices are None with availability
  "unavailable"; any other unparseable or non-positive price rejects the record.

The shared rules (text, categories, models, prices, the processed-JSON reader ODEX uses too) are in fields.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from ysh_assets.catalog.fields import (
    add_product,
    brand_of,
    classify_category,
    clean,
    csv_rows,
    derived_id,
    extract_model,
    http_url,
    price_holds_title,
    product_fields,
    read_price,
    read_processed_text,
    read_text,
    tidy_model,
)
from ysh_assets.catalog.records import CatalogBatch, CatalogFormatError, Product, Rejected, is_test_entry, raw_json

DISTRIBUTOR = "solfacil"
LABEL = "Solfácil"
DOMAIN = "solfacil"  # what the processed JSON's `source` (loja.solfacil.com.br) names
LAYOUTS = (
    "raw scrape CSV (loaded src, title-left, title-right, subtitle, price)",
    "processed JSON list (id, name, manufacturer, category, price, ...)",
)

_SCRAPE_REQUIRED = ("title-left", "title-right", "subtitle", "price")

# ------------------------------------------------------------------------------------------------ the scrape CSV


def _header_key(cell: str) -> str:
    return " ".join(cell.strip().lower().split())


def _read_scrape(path: Path, rows: list[list[str]]) -> CatalogBatch:
    header = [_header_key(cell) for cell in rows[0]]
    column = {name: header.index(name) for name in header if name}
    batch = CatalogBatch(distributor=DISTRIBUTOR, file=path.name)
    seen: dict[str, int] = {}
    for index, row in enumerate(rows[1:], start=1):
        add_product(batch, index, _scrape_row(index, row, header, column), seen)
    return batch


def _scrape_row(index: int, row: list[str], header: list[str], column: dict[str, int]) -> Product | Rejected:
    record = {header[i] if i < len(header) else f"extra_{i + 1}": value for i, value in enumerate(row)}
    raw = raw_json(record)
    if not any(clean(value) for value in row):
        return Rejected(index, "empty row", raw)
    if len(row) != len(header):
        return Rejected(index, f"broken row: {len(row)} fields, the header has {len(header)}", raw)

    def cell(name: str) -> str:
        return clean(row[column[name]]) if name in column else ""

    brand, store_model, title, price_field = cell("title-left"), cell("title-right"), cell("subtitle"), cell("price")
    image = cell("loaded src")
    if re.match(r"^https?://", brand + store_model + title, re.IGNORECASE) or price_holds_title(price_field):
        return Rejected(index, f"fields shifted: price holds text {price_field!r}, title {title!r}", raw)
    name = " ".join(part for part in (brand, store_model) if part) or title
    if not name:
        return Rejected(index, "no name (brand, model and title are empty)", raw)
    if any(is_test_entry(text) for text in (name, store_model, title)):
        return Rejected(index, f"store test entry {name!r}", raw)
    price, unavailable, problem = read_price(price_field)
    if problem:
        return Rejected(index, problem, raw)

    description = title or None
    category = classify_category([title, name])
    manufacturer = brand_of(brand, DISTRIBUTOR, [title, name])
    model = tidy_model(store_model, description) if store_model else extract_model(title, brand or manufacturer)
    store_id = re.search(r"/products/(\d+)/", image)
    url = next((http_url(row[i]) for key, i in column.items() if "href" in key and http_url(row[i])), None)
    return Product(
        distributor=DISTRIBUTOR,
        product_id=store_id.group(1) if store_id else derived_id(DISTRIBUTOR, name, model or "", title),
        category=category,
        name=name,
        manufacturer=manufacturer,
        model=model,
        price_brl=price,
        availability="unavailable" if unavailable else None,
        url=url,
        image_url=http_url(image),
        description=description,
        raw_record=raw,
        **product_fields(name, description, category),
    )


# ------------------------------------------------------------------------------------------------ entry point


def read(path: Path) -> CatalogBatch:
    path = Path(path)
    text = read_text(path, LABEL, LAYOUTS)
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return read_processed_text(path, text, distributor=DISTRIBUTOR, label=LABEL, domain=DOMAIN, layouts=LAYOUTS)
    rows = csv_rows(path, text, LABEL, LAYOUTS)
    header = [_header_key(cell) for cell in rows[0]] if rows else []
    if all(name in header for name in _SCRAPE_REQUIRED):
        return _read_scrape(path, rows)
    raise CatalogFormatError(
        f"{path.name}: not a {LABEL} catalog: expected one of {LAYOUTS}; found header {rows[0] if rows else []}"
    )
