"""Fotus (app.fotus.com.br) processed kits JSON -> CatalogBatch (kits only).

A JSON array of `{id, name, type, potencia_kwp, price_brl, estrutura, centro_distribuicao, panels[], inverters[],
batteries[], structures[], accessories[], ...}` (`fotus-kits.json`; the hybrid-kit file of the same family has the
same keys). What the scraper got wrong, and what is done about it:

- `panels` is usually empty while the title names the module (`ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2%
  EF.)`): the module comes from the title, its count derived from kWp / W only when that is unambiguous.
- `inverters[].brand` is the product kind (`MICROINVERSOR`, `INVERSOR`): the brand is read from the description.
- `inverters[].power_kw` is 2.0 for every unit that is not 2.25 kW (a 3 kW Solis, a GoodWe GW3300): the power is read
  from the description (or the title), never from that field.
- `inverters[].quantity` is the module count (8 inverters of 3.3 kW for a 4,56 kWp kit): a count that equals the
  module count where that is implausible (a multi-input microinverter, a string inverter, or more inverter power
  than twice the array) is discarded and re-derived where unambiguous (kits.derive_inverter_quantity).
- Fotus reuses one `id` for kits that differ (another inverter, another distribution centre): each distinct kit gets
  its own stable id (kits.stable_kit_id); the Fotus id stays in `source_kit_id`.
- The hybrid file has broken component parsing (`"brand": "1"`, `"description": "2"`): such records are rejected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ysh_assets.catalog.fields import clean, extract_model, read_text
from ysh_assets.catalog.kits import (
    category_of,
    derive_inverter_quantity,
    derive_module_quantity,
    kit_type_of,
    mlpe_of,
    normalize_center,
    parse_kit_title,
    stable_kit_id,
    watts_of,
    wp_of,
)
from ysh_assets.catalog.records import (
    CatalogBatch,
    CatalogFormatError,
    Kit,
    KitComponent,
    Rejected,
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_brl,
    parse_decimal,
    raw_json,
    same_content,
)

DISTRIBUTOR = "fotus"
LABEL = "Fotus"
LAYOUTS = (
    "kits JSON (array of {id, name, type, potencia_kwp, price_brl, estrutura, centro_distribuicao, panels[], "
    "inverters[], batteries[], ...})",
)
_KEYS = {"id", "name", "potencia_kwp", "price_brl", "inverters"}
_LISTS = {"panels": "module", "inverters": "inverter", "batteries": "battery", "structures": "structure"}
_KIND_WORDS = re.compile(r"^(?:micro\s*)?invers[oa]r(?:es)?(?:\s+h[ií]brido)?$|^painel$|^modulo$|^bateria$", re.I)


def _records(path: Path) -> list[Any]:
    try:
        data = json.loads(read_text(path, LABEL, LAYOUTS))
    except json.JSONDecodeError as error:
        raise CatalogFormatError(
            f"{path.name}: not a Fotus catalog: expected one of {LAYOUTS}; found invalid JSON ({error.msg})"
        ) from None
    if isinstance(data, dict):
        lists = [v for k, v in data.items() if isinstance(v, list) and k.lower() in ("kits", "data", "items")]
        if len(lists) == 1:
            data = lists[0]
    if not isinstance(data, list):
        found = f"a JSON object with keys {sorted(data)[:12]}" if isinstance(data, dict) else type(data).__name__
        raise CatalogFormatError(f"{path.name}: not a Fotus catalog: expected one of {LAYOUTS}; found {found}")
    dicts = [r for r in data if isinstance(r, dict)]
    matching = sum(1 for r in dicts if r.keys() >= _KEYS)
    if not data or matching * 2 < len(data):
        keys = sorted({k for r in dicts[:20] for k in r})[:20]
        raise CatalogFormatError(f"{path.name}: not a Fotus catalog: expected one of {LAYOUTS}; found keys {keys}")
    return data


def read(path: Path) -> CatalogBatch:
    path = Path(path)
    batch = CatalogBatch(distributor=DISTRIBUTOR, file=path.name, holds="kits")
    seen: dict[str, tuple[int, Kit]] = {}
    for number, record in enumerate(_records(path), start=1):
        result = _kit(record)
        if isinstance(result, str):
            batch.rejected.append(Rejected(record=number, reason=result, raw_record=raw_json(record)))
            continue
        if result.kit_id in seen:
            first, first_kit = seen[result.kit_id]
            if same_content(result, first_kit):
                batch.repeated += 1
            else:
                reason = f"conflicting copy of record {first} (same kit {result.kit_id}, other values)"
                batch.rejected.append(Rejected(record=number, reason=reason, raw_record=raw_json(record)))
            continue
        seen[result.kit_id] = (number, result)
        batch.kits.append(result)
    return batch


# ------------------------------------------------------------------------------------------------ records


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_decimal(clean(value))


def _broken(record: dict) -> str | None:
    """Why the component lists are unusable, or None: a list that is not a list of objects, a brand or a
    description that is a bare number (`"brand": "1"`), a quantity that is not a positive whole number."""
    for key in (*_LISTS, "accessories"):
        items = record.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            return f"broken component fields: {key} is {type(items).__name__}, not a list"
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                return f"broken component fields: {where} is {item!r}, not an object"
            for field in ("brand", "description", "model", "name"):
                value = clean(item.get(field))
                if field in item and re.fullmatch(r"\d[\d.,\s]*", value):
                    return f"broken component fields: {where}.{field}={item.get(field)!r}"
            quantity = item.get("quantity")
            if quantity is not None and (
                isinstance(quantity, bool) or _number(quantity) is None or not float(_number(quantity)).is_integer()
                or _number(quantity) < 1  # type: ignore[operator]
            ):  # fmt: skip
                return f"broken component fields: {where}.quantity={quantity!r}"
    return None


def _manufacturer(item: dict, description: str) -> str | None:
    brand = clean(item.get("brand") or item.get("manufacturer"))
    known = known_manufacturer_in(description)
    if known:
        return known
    if brand and not _KIND_WORDS.match(brand):
        return normalize_manufacturer(brand)
    word = re.match(r"^\S+\s+([A-Za-z][A-Za-z]+)", description)  # `INVERSOR AUXSOL 3KW` -> AUXSOL
    if word and category_of(description) != "other" and category_of(word.group(1)) == "other":
        return normalize_manufacturer(word.group(1))
    return None


def _component(kind: str, item: dict) -> KitComponent:
    description = clean(item.get("description") or item.get("name") or item.get("model"))
    category = kind
    if kind in ("inverter", "module", "battery"):
        named = category_of(description) if description else "other"
        if named not in ("other", "kit"):
            category = named
        elif kind == "inverter" and _KIND_WORDS.match(clean(item.get("brand"))):
            category = category_of(clean(item.get("brand")))
    power: float | None = None
    if category == "module":
        power = wp_of(description) or watts_of(description) or _number(item.get("power_w"))
    elif category in ("inverter", "microinverter", "hybrid_inverter"):
        power = watts_of(description)  # never power_kw: it is a default 2.0 for most units
    quantity = item.get("quantity")
    return KitComponent(
        category=category,
        quantity=int(_number(quantity)) if quantity is not None else None,  # type: ignore[arg-type]
        description=description,
        power_w=power,
        manufacturer=_manufacturer(item, description),
        model=clean(item.get("model")) or extract_model(description),
    )


def _implausible(inverter: KitComponent, kwp: float | None, module_count: int | None) -> bool:
    """The scraper wrote the module count into inverters[].quantity: such a count is discarded where it cannot be
    right (one unit per module for a multi-input microinverter or a string inverter, or twice the array in AC)."""
    if inverter.quantity is None or inverter.quantity == 1:
        return False  # a single unit is never a module count written in the wrong place
    if kwp and inverter.power_w and inverter.quantity * inverter.power_w > 2 * kwp * 1000:
        return True
    if module_count and inverter.quantity == module_count and module_count > 1:
        if inverter.category != "microinverter":
            return True
        inputs = mlpe_of(inverter.description)
        return inputs is not None and inputs > 1
    return False


def _kit(record: Any) -> Kit | str:
    """One record -> a Kit, or the reason it is rejected."""
    if not isinstance(record, dict) or not record:
        return "empty record" if not record else f"not a JSON object: {type(record).__name__}"
    name = clean(record.get("name"))
    if not name:
        return "missing name"
    if is_test_entry(name):
        return f"store test entry: {name!r}"
    price_value = record.get("price_brl")
    price = parse_brl(price_value) if price_value not in (None, "") else None
    if price_value not in (None, "") and price is None:
        return f"unparseable price {price_value!r}"
    if price is not None and price <= 0:
        return f"non-positive price {price_value!r}"
    broken = _broken(record)
    if broken:
        return broken
    title = parse_kit_title(name)
    kwp = _number(record.get("potencia_kwp"))
    if not kwp or kwp <= 0:
        kwp = title.kwp
    components: list[KitComponent] = []
    panels = [_component("module", p) for p in record.get("panels") or []]
    if panels:
        components.extend(panels)
    elif title.module is not None:
        module = title.module
        components.append(
            KitComponent(
                category="module",
                quantity=None,
                description=module.description,
                power_w=module.power_w,
                manufacturer=module.manufacturer,
                model=module.model,
            )
        )
    derive_module_quantity(components, kwp)
    module_count = sum(c.quantity for c in components if c.category == "module" and c.quantity) or None
    inverters = [_component("inverter", i) for i in record.get("inverters") or []]
    if not inverters and title.inverter is not None:
        inverters = [title.inverter]
    for inverter in inverters:
        if title.inverter is not None:
            inverter.manufacturer = inverter.manufacturer or title.inverter.manufacturer
            inverter.power_w = inverter.power_w or title.inverter.power_w
        if _implausible(inverter, kwp, module_count):
            inverter.quantity = None
        derive_inverter_quantity(inverter, kwp, module_count)
    components.extend(inverters)
    for key in ("batteries", "structures"):
        components.extend(_component(_LISTS[key], item) for item in record.get(key) or [])
    components.extend(_component("other", item) for item in record.get("accessories") or [])
    if not components:
        return "no components: neither the component lists nor the title name a module or an inverter"
    kit_type = title.kit_type or kit_type_of(clean(record.get("type")))
    if kit_type is None:
        kit_type = "hybrid" if any(c.category in ("battery", "hybrid_inverter") for c in components) else "grid_tie"
    center = normalize_center(record.get("centro_distribuicao")) or title.distribution_center
    source_id = clean(record.get("id")) or None
    inverter_text = [clean(i.get("description")) for i in record.get("inverters") or []]
    return Kit(
        distributor=DISTRIBUTOR,
        kit_id=stable_kit_id(DISTRIBUTOR, source_id, name, center, *inverter_text),
        source_kit_id=source_id,
        name=name,
        kwp=kwp,
        price_brl=price,
        kit_type=kit_type,
        mounting_structure=clean(record.get("estrutura")) or title.mounting_structure,
        distribution_center=center,
        url=clean(record.get("url")) or None,
        components=components,
        raw_record=raw_json(record),
    )
