"""NeoSolar (portalb2b.neosolar.com.br) browser-extension scrapes -> CatalogBatch.

Two layouts share one set of CSS-class column names (in another order), so the layout is told by content:
- catalog scrape: `MuiTypography-root` is a product title (`Inversor Off Grid Senoidal ZTROON ZT1000-11 - 1000W -
  12/127V`), `MuiTypography-root 2`/`3` a long Portuguese description -> Products;
- kits scrape: `MuiTypography-root` is a kit title (`Kit Energia Solar Off Grid - 1,24kWp 100Ah/48V Lítio (27314)`),
  `MuiTypography-root 2`/`3` the composition, twice -> Kits.
In both, `MuiTypography-root 4` holds the price (`R$ 6.896,31`) and `MuiButtonBase-root 3` the word `Indisponível`
when the item is unavailable (the price may still be shown); `MuiStack-root href` is the product URL, whose last
number is NeoSolar's id.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ysh_assets.catalog.fields import (
    clean,
    extract_model,
    is_unavailable_label,
    parse_efficiency,
    parse_phases,
    parse_voltage,
    read_text,
)
from ysh_assets.catalog.kits import (
    category_of,
    derive_module_quantity,
    kit_type_of,
    parse_composition,
    parse_kit_title,
    stable_kit_id,
    watts_of,
    wp_of,
)
from ysh_assets.catalog.records import (
    CatalogBatch,
    CatalogFormatError,
    Kit,
    Product,
    Rejected,
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_brl,
    raw_json,
)

DISTRIBUTOR = "neosolar"
LABEL = "NeoSolar"
LAYOUTS = (
    "catalog scrape CSV (MuiStack-root href, MuiTypography-root = title, MuiTypography-root 2/3 = description, "
    "MuiTypography-root 4 = price, MuiButtonBase-root 3 = availability, MuiBox-root src = image)",
    "kits scrape CSV (same columns: MuiTypography-root = kit title, MuiTypography-root 2/3 = composition "
    "`2x 620Wp DAH | 1x 40A MPPT Epever | ...`, MuiTypography-root 4 = price)",
)

_URL, _TITLE, _TEXT, _TEXT2, _PRICE, _AVAILABILITY, _IMAGE = (
    "MuiStack-root href",
    "MuiTypography-root",
    "MuiTypography-root 2",
    "MuiTypography-root 3",
    "MuiTypography-root 4",
    "MuiButtonBase-root 3",
    "MuiBox-root src",
)
_REQUIRED = {_URL, _TITLE, _TEXT, _PRICE}


def _layout(path: Path, header: list[str], rows: list[dict[str, str]]) -> str:
    names = {clean(h) for h in header}
    if not names >= _REQUIRED:
        raise CatalogFormatError(f"{path.name}: not a NeoSolar catalog: expected one of {LAYOUTS}; found {header}")
    titles = [clean(r.get(_TITLE)) for r in rows]
    titles = [t for t in titles if t and not is_test_entry(t)]
    kits = sum(1 for t in titles if re.match(r"^kits?\b", t, re.IGNORECASE))
    return "kits" if titles and kits * 2 > len(titles) else "catalog"


def read(path: Path) -> CatalogBatch:
    path = Path(path)
    text = read_text(path, LABEL, LAYOUTS)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogFormatError(
            f"{path.name}: not a NeoSolar catalog: expected one of {LAYOUTS}; found an empty file"
        ) from None
    header = [clean(h) for h in header]
    records = []
    for values in reader:
        record = {name: (values[i] if i < len(values) else "") for i, name in enumerate(header)}
        if len(values) > len(header):
            record["_extra"] = values[len(header) :]  # kept in raw_record, never dropped
        records.append(record)
    layout = _layout(path, header, records)
    batch = CatalogBatch(distributor=DISTRIBUTOR, file=path.name, holds="kits" if layout == "kits" else "products")
    seen: dict[str, tuple[int, tuple]] = {}
    for number, record in enumerate(records, start=1):
        if layout == "kits":
            _kit_record(batch, number, record, seen)
        else:
            _product_record(batch, number, record, seen)
    return batch


def _reject(batch: CatalogBatch, number: int, reason: str, record: dict) -> None:
    batch.rejected.append(Rejected(record=number, reason=reason, raw_record=raw_json(record)))


def _common(batch: CatalogBatch, number: int, record: dict) -> tuple[str, float | None, str | None] | None:
    """Name, price and availability of a record, or None when it was rejected."""
    if not any(clean(v) for k, v in record.items() if k != "_extra"):
        _reject(batch, number, "empty row", record)
        return None
    name = clean(record.get(_TITLE))
    if not name:
        _reject(batch, number, "missing name", record)
        return None
    if is_test_entry(name):
        _reject(batch, number, f"store test entry: {name!r}", record)
        return None
    unavailable = any(is_unavailable_label(v) for k, v in record.items() if k != "_extra" and k != _TITLE)
    price_text = clean(record.get(_PRICE))
    price: float | None = None
    if price_text and not is_unavailable_label(price_text):
        price = parse_brl(price_text)
        if price is None:
            _reject(batch, number, f"unparseable price {price_text!r}", record)
            return None
        if price <= 0:
            _reject(batch, number, f"non-positive price {price_text!r}", record)
            return None
    availability = "unavailable" if unavailable else ("available" if price is not None else None)
    return name, price, availability


def _source_id(record: dict, name: str) -> str | None:
    url = clean(record.get(_URL))
    match = re.search(r"/produto/(\d+)", url) or re.search(r"(\d+)/?$", url)
    if match:
        return match.group(1)
    match = re.search(r"\((\d{3,})\)\s*$", name)
    return match.group(1) if match else None


def _duplicate(
    batch: CatalogBatch, number: int, record: dict, key: str, offer: tuple, seen: dict[str, tuple[int, tuple]]
) -> bool:
    """True for a record whose id an earlier one had. The scrape repeats pages, and a repeated page may have
    loaded its images since: a copy with the same id and offer (price, availability) is counted as repeated,
    one with another offer is rejected as conflicting."""
    if key in seen:
        first, first_offer = seen[key]
        if offer == first_offer:
            batch.repeated += 1
        else:
            _reject(batch, number, f"conflicting copy of record {first} (same id {key}, another price)", record)
        return True
    seen[key] = (number, offer)
    return False


# ------------------------------------------------------------------------------------------------ products


def _product_manufacturer(title: str, model: str | None) -> str | None:
    known = known_manufacturer_in(title)
    if known:
        return known
    if model:  # the word just before the model: `Inversor Carregador Must PV29-5048` -> MUST
        before = title.split(model)[0].split()
        if before and re.fullmatch(r"[A-Za-zÀ-ú]{2,}", before[-1]) and category_of(before[-1]) == "other":
            return normalize_manufacturer(before[-1])
    return None


def _product_record(batch: CatalogBatch, number: int, record: dict, seen: dict[str, tuple[int, tuple]]) -> None:
    common = _common(batch, number, record)
    if common is None:
        return
    name, price, availability = common
    source_id = _source_id(record, name)
    if source_id is None:
        _reject(batch, number, "no product id (no /produto/<id> URL)", record)
        return
    if _duplicate(batch, number, record, source_id, (price, availability), seen):
        return
    description = clean(record.get(_TEXT)) or clean(record.get(_TEXT2))
    if re.fullmatch(r"[-\u2013\u2014.\s]*", description or ""):
        description = clean(record.get(_TEXT2))
    if re.fullmatch(r"[-\u2013\u2014.\s]*", description or ""):
        description = ""
    model = extract_model(name)
    category = category_of(name) if not re.match(r"^kits?\b", name, re.IGNORECASE) else "kit"
    batch.products.append(
        Product(
            distributor=DISTRIBUTOR,
            product_id=source_id,
            category=category,
            name=name,
            manufacturer=_product_manufacturer(name, model),
            model=model,
            power_w=(wp_of(name) or watts_of(name)) if category == "module" else watts_of(name),
            price_brl=price,
            availability=availability,
            phases=parse_phases(name) or parse_phases(description),
            voltage_v=parse_voltage(name),
            efficiency_pct=parse_efficiency(name) or parse_efficiency(description),
            url=clean(record.get(_URL)) or None,
            image_url=clean(record.get(_IMAGE)) or None,
            description=description or None,
            raw_record=raw_json(record),
        )
    )


# ------------------------------------------------------------------------------------------------ kits


def _kit_record(batch: CatalogBatch, number: int, record: dict, seen: dict[str, tuple[int, tuple]]) -> None:
    common = _common(batch, number, record)
    if common is None:
        return
    name, price, availability = common
    composition = clean(record.get(_TEXT)) or clean(record.get(_TEXT2))
    if not composition:
        _reject(batch, number, "missing kit composition", record)
        return
    components = parse_composition(composition)
    if not components:
        _reject(batch, number, f"no components in composition {composition!r}", record)
        return
    title = parse_kit_title(name)
    kwp = title.kwp
    derive_module_quantity(components, kwp)
    modules = [c for c in components if c.category == "module"]
    if kwp is None and modules and all(c.quantity and c.power_w for c in modules):
        kwp = round(sum(c.quantity * c.power_w for c in modules) / 1000.0, 6)  # type: ignore[operator]
    kit_type = title.kit_type or kit_type_of(composition)
    if kit_type is None and any(c.category in ("battery", "charge_controller") for c in components):
        kit_type = "off_grid"  # batteries or a charge controller and no grid words: an off-grid kit
    source_id = _source_id(record, name)
    kit_id = stable_kit_id(DISTRIBUTOR, source_id, name, None, composition)
    if _duplicate(batch, number, record, kit_id, (price, availability), seen):
        return
    batch.kits.append(
        Kit(
            distributor=DISTRIBUTOR,
            kit_id=kit_id,
            source_kit_id=source_id,
            name=name,
            kwp=kwp,
            price_brl=price,
            kit_type=kit_type,
            mounting_structure=None,
            distribution_center=None,
            url=clean(record.get(_URL)) or None,
            components=components,
            raw_record=raw_json(record),
        )
    )
