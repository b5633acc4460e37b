"""Fortlev (fortlevsolar.app): processed product JSON lists and the kits JSON with structured components.

Two layouts, told apart by their records' keys (never the file name):

* products: a JSON list of `{"id", "name", "manufacturer", "category", "price", "pricing": {"price"}, ...}`
  (`fortlev-inverters.json`, `fortlev-panels.json`, `fortlev-batteries.json`);
* kits: a JSON list of `{"id", "name", "system_power_kwp", "total_price", "pricing": {"total"},
  "components": {"panel": {...}, "inverter": {...}}}` (`fortlev-kits-enhanced.json`).

The kits' `vision_analysis` fields were produced by an AI image model in the scraping project: they are not
source data, so no value is ever taken from them (they stay only inside `raw_record`). The products' category
field is the storefront section, which also holds accessories (meters, cables, loggers): the category is decided
from the name first and the section only when the name says nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ysh_assets.catalog.fields import (
    category_from_label,
    classify_category,
    content_id,
    extract_model,
    fold,
    http_url,
    normalize_availability,
    optional_text,
    parse_efficiency,
    parse_json,
    parse_phases,
    parse_voltage,
    read_text,
)
from ysh_assets.catalog.kits import kit_type_of
from ysh_assets.catalog.records import (
    CatalogBatch,
    CatalogFormatError,
    Kit,
    KitComponent,
    Product,
    Rejected,
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_brl,
    parse_power_w,
    raw_json,
)

DISTRIBUTOR = "fortlev"
LABEL = "Fortlev"
LAYOUTS = (
    "product JSON list (id, name, manufacturer, category, price, ...)",
    "kits JSON (id, name, system_power_kwp, total_price, ... with components)",
)
_CENT = 0.01 + 1e-9

_PRODUCT_KEYS = {"id", "name", "price", "pricing", "category", "manufacturer", "availability"}
_KIT_KEYS = {"components"}


# ------------------------------------------------------------------------------------------------ reading


def read(path: Path) -> CatalogBatch:
    """The Fortlev file at `path` as products or kits, every record accounted for (kept or rejected)."""
    path = Path(path)
    data = parse_json(path, read_text(path, LABEL, LAYOUTS), LABEL, LAYOUTS)
    layout = _layout(path, data)
    batch = CatalogBatch(distributor=DISTRIBUTOR, file=path.name, holds="products" if layout == "products" else "kits")
    seen: dict[str, int] = {}
    for position, record in enumerate(data, start=1):
        raw = raw_json(record)
        reason = _common_rejection(record)
        if reason is None and raw in seen:
            batch.repeated += 1
            continue
        if reason is not None:
            batch.rejected.append(Rejected(record=position, reason=reason, raw_record=raw))
            continue
        seen[raw] = position
        result = _product(record, raw) if layout == "products" else _kit(record, raw)
        if isinstance(result, str):
            batch.rejected.append(Rejected(record=position, reason=result, raw_record=raw))
        elif isinstance(result, Product):
            batch.products.append(result)
        else:
            batch.kits.append(result)
    return batch


def _layout(path: Path, data: Any) -> str:
    if isinstance(data, list):
        records = [r for r in data if isinstance(r, dict) and r]
        keys = sorted({key for record in records for key in record})
        kits = sum(1 for r in records if r.keys() >= _KIT_KEYS)
        products = sum(
            1
            for r in records
            if not _KIT_KEYS & r.keys() and len(_PRODUCT_KEYS & r.keys()) >= 4 and {"price", "pricing"} & r.keys()
        )
        if records and kits * 2 >= len(records):
            return "kits"
        if records and products * 2 >= len(records):
            return "products"
        found = ", ".join(keys[:20]) or "none"
    elif isinstance(data, dict):
        found = ", ".join(sorted(data)[:20]) + " (a JSON object, not a list)"
    else:
        found = f"none (a JSON {type(data).__name__})"
    raise CatalogFormatError(f"{path.name}: not a Fortlev catalog: expected one of {LAYOUTS}; found keys {found}")


def _common_rejection(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"not a JSON object: {type(record).__name__}"
    if not any(value not in (None, "", [], {}) for value in record.values()):
        return "empty record"
    name = optional_text(record.get("name"))
    if name is None:
        return "missing name"
    if is_test_entry(name):
        return f"store test entry: {name!r}"
    return None


# ------------------------------------------------------------------------------------------------ products


def _product(record: dict[str, Any], raw: str) -> Product | str:
    name = optional_text(record["name"])
    assert name is not None
    availability = normalize_availability(record.get("availability"))
    pricing = record.get("pricing") if isinstance(record.get("pricing"), dict) else {}
    price = _price(record.get("price"), "price", pricing.get("price"), "pricing.price")
    if isinstance(price, str):
        return price
    if price is None:
        if availability is None and normalize_availability(record.get("price")) == "unavailable":
            availability = "unavailable"
        if availability != "unavailable":
            return "missing price (and the product is not marked unavailable)"
    category = classify_category([name], optional_text(record.get("category")))
    source_brand = optional_text(record.get("manufacturer"))
    if source_brand is not None and fold(source_brand) in _NO_BRAND:
        source_brand = None
    manufacturer = normalize_manufacturer(source_brand) or known_manufacturer_in(name)
    text = f"{name} {optional_text(record.get('description')) or ''}"
    product_id = optional_text(record.get("id")) or "fortlev-" + content_id([DISTRIBUTOR, name])
    return Product(
        distributor=DISTRIBUTOR,
        product_id=product_id,
        category=category,
        name=name,
        manufacturer=manufacturer,
        model=extract_model(name, manufacturer) if manufacturer else None,
        power_w=parse_power_w(name),
        price_brl=price,
        availability=availability,
        phases=parse_phases(text),
        voltage_v=parse_voltage(name) if category not in ("module", "battery", "structure") else None,
        efficiency_pct=parse_efficiency(text),
        url=http_url(record.get("url") or record.get("link")),
        image_url=http_url(record.get("image") or record.get("image_url")),
        description=optional_text(record.get("description")),
        raw_record=raw,
    )


def _price(text_value: Any, text_label: str, number_value: Any, number_label: str) -> float | str | None:
    """The price, or None when the record has none, or a rejection reason (unparseable, non-positive, or the
    text and the number disagreeing beyond one centavo)."""
    text = optional_text(text_value) if not isinstance(text_value, int | float) else str(text_value)
    from_text = parse_brl(text_value)
    from_number = parse_brl(number_value) if number_value not in (None, "") else None
    if number_value not in (None, "") and from_number is None:
        return f"unparseable {number_label} {number_value!r}"
    if text is not None and from_text is None:
        if normalize_availability(text) == "unavailable" and not from_number:
            return None
        return f"unparseable {text_label} {text!r}" + (
            f" ({number_label} {number_value!r})" if from_number is not None else ""
        )
    if from_text is not None and from_number is not None and abs(from_text - from_number) > _CENT:
        return f"{text_label} {text!r} ({from_text:.2f}) and {number_label} {number_value!r} disagree"
    price = from_text if from_text is not None else from_number
    if price is not None and price <= 0:
        return f"non-positive price {text or number_value!r}"
    return price


_NO_BRAND = {"unknown", "desconhecido", "n/a", "na", "none", "-", "sem marca", "generico"}


# ------------------------------------------------------------------------------------------------ kits

_KWP = re.compile(r"(\d+(?:[.,]\d+)?)\s*kwp\b", re.IGNORECASE)


def _kit(record: dict[str, Any], raw: str) -> Kit | str:
    name = optional_text(record["name"])
    assert name is not None
    pricing = record.get("pricing") if isinstance(record.get("pricing"), dict) else {}
    price = _price(record.get("total_price"), "total_price", pricing.get("total"), "pricing.total")
    if isinstance(price, str):
        return price
    if price is None and normalize_availability(record.get("availability")) != "unavailable":
        return "missing price (and the kit is not marked unavailable)"
    kwp = _kwp(record, name)
    if isinstance(kwp, str):
        return kwp
    components = _components(record.get("components"))
    if isinstance(components, str):
        return components
    source_id = optional_text(record.get("id"))
    identity = [
        DISTRIBUTOR,
        source_id,
        name,
        [
            [role, component_id, c.category, c.manufacturer, c.model, c.quantity, c.power_w]
            for role, component_id, c in components
        ],
    ]
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    stated_parts = (record.get("type"), record.get("kit_type"), name, metadata.get("details"))
    stated = " ".join(t for t in map(optional_text, stated_parts) if t)
    return Kit(
        distributor=DISTRIBUTOR,
        kit_id=content_id(identity),
        source_kit_id=source_id,
        name=name,
        kwp=kwp,
        price_brl=price,
        kit_type=kit_type_of(stated),
        mounting_structure=optional_text(
            record.get("mounting_structure") or record.get("estrutura") or record.get("structure")
        ),
        distribution_center=optional_text(
            record.get("distribution_center") or record.get("centro_distribuicao") or record.get("cd")
        ),
        url=http_url(record.get("url") or record.get("link")),
        components=[component for _, _, component in components],
        raw_record=raw,
    )


def _kwp(record: dict[str, Any], name: str) -> float | str | None:
    """`system_power_kwp`, refined by a more precise kWp stated in the details or the name when the two agree
    (`2.92` and "2.925kWp" -> 2.925); a rejection reason when they disagree. Stated kWp are plain decimals."""
    value = record.get("system_power_kwp")
    number = parse_brl(value) if value not in (None, "") else None
    if value not in (None, "") and (number is None or number <= 0):
        return f"unparseable system_power_kwp {value!r}"
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    stated: list[tuple[str, str]] = []
    for label, text in (("metadata.details", optional_text(metadata.get("details"))), ("name", name)):
        match = _KWP.search(text or "")
        if match:
            stated.append((label, match.group(1).replace(",", ".")))
    if number is None:
        return float(stated[0][1]) if stated else None
    best, best_digits = number, len(repr(float(number)).split(".")[1].rstrip("0"))
    for label, text in stated:
        if abs(float(text) - number) >= 0.01 + 1e-9:
            return f"system_power_kwp {value!r} and {label} {text}kWp disagree"
        digits = len(text.split(".")[1]) if "." in text else 0
        if digits > best_digits:
            best, best_digits = float(text), digits
    return best


def _components(value: Any) -> list[tuple[str, str | None, KitComponent]] | str:
    """(source role, source component id, component) for each component, from `{"panel": {...}, ...}` or a
    list of components with a `type` / `category`."""
    if value in (None, "", [], {}):
        return []
    entries: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for role, item in value.items():
            entries.extend((str(role), one) for one in (item if isinstance(item, list) else [item]))
    elif isinstance(value, list):
        entries = [
            (str(item.get("type") or item.get("category") or "") if isinstance(item, dict) else "", item)
            for item in value
        ]
    else:
        return f"components is a {type(value).__name__}, not an object or a list"
    components = []
    for role, item in entries:
        if not isinstance(item, dict):
            return f"component {role!r} is not an object: {item!r}"
        components.append(_component(role, item))
    return components


def _component(role: str, item: dict[str, Any]) -> tuple[str, str | None, KitComponent]:
    description_text = optional_text(item.get("description") or item.get("name"))
    category = category_from_label(role) or classify_category([description_text])
    if category == "kit":
        category = "other"
    brand = optional_text(item.get("manufacturer") or item.get("brand"))
    power_w = _number(item.get("power_w"))
    power_kw = _number(item.get("power_kw"))
    if power_w is None and power_kw is not None:
        power_w = round(power_kw * 1000, 6)
    if description_text is None:
        parts = [role, brand or ""]
        if item.get("power_w") is not None and power_w is not None:
            parts.append(f"{power_w:g}W")
        elif power_kw is not None:
            parts.append(f"{power_kw:g}kW")
        description_text = " ".join(p for p in parts if p)
    quantity = item.get("quantity")
    quantity = (
        int(quantity)
        if isinstance(quantity, int | float) and not isinstance(quantity, bool) and quantity == int(quantity)
        else None
    )
    component = KitComponent(
        category=category,
        quantity=quantity,
        description=description_text,
        power_w=power_w if category in ("module", "inverter", "microinverter", "hybrid_inverter") else None,
        manufacturer=normalize_manufacturer(brand) if brand and fold(brand) not in _NO_BRAND else None,
        model=optional_text(item.get("model")),
    )
    return role, optional_text(item.get("component_id") or item.get("id")), component


# ------------------------------------------------------------------------------------------------ helpers


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and value > 0 else None
    return None
