"""OptimusSun: the technical sheets of a Brazilian string-sizing tool, exported sheet by sheet to CSV.

Two layouts, recognised by their header row (found among the first rows, not by file name):

* modules — `Modelo, Fabricante, Face, Estrutura Cristalina, Comprimento (mm), Largura (mm), …,
  Potência Nominal (Wp), Voc (V), …`;
* inverters — a row of column groups (`Dimensões, Comunicação, Potência, MPPT, CA`) and then `Modelo, Fabricante,
  …, Potência Nominal (W), Potência máxima (VA), …, Monofásico / Bifásico, Trifásico 3 fios, Trifásico 4 fios,
  Tensão nominal máxima/mínima de saída (Vac), …`.

The tool's front sheet (`Inicio`: one example sizing of a module with an inverter) is not a catalog and is
refused with CatalogFormatError saying so.

Datasheet values, no prices: price_brl and availability are None. name is `FABRICANTE MODELO`, model the
`Modelo` cell, product_id a sha1 of distributor + manufacturer + model (16 hex). Rules:

* power_w is the sheet's nominal power; a record without a positive one is rejected.
* Modules: efficiency_pct is derived as nominal power / (length x width x 1000 W/m²), the STC definition
  datasheets use, rounded to 0.01; outside 5-30 % the record's fields are inconsistent and it is rejected.
* Inverters: a nominal power more than twice the maximum apparent power, or less than half of it, is a broken
  record (`SUN2000-10KTL`: 1000 W nominal, 11000 VA maximum) and is rejected; phases 1 when only
  `Monofásico / Bifásico` says Sim, 3 when only a `Trifásico` column does; voltage_v the minimum nominal output
  voltage (the first of the range, as `220-240V` would read), else the maximum.
"""

from __future__ import annotations

import re
from pathlib import Path

from ysh_assets.catalog.fields import classify_category, clean, csv_rows, derived_id, fold, read_text
from ysh_assets.catalog.records import (
    CatalogBatch,
    CatalogFormatError,
    Product,
    Rejected,
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_decimal,
    raw_json,
    same_content,
)

DISTRIBUTOR = "optimussun"
LABEL = "OptimusSun"
LAYOUTS = (
    "module sheet CSV (Modelo, Fabricante, ..., Potência Nominal (Wp), ...)",
    "inverter sheet CSV (column groups row, then Modelo, Fabricante, ..., Potência Nominal (W), ...)",
)
_HEADER_SEARCH_ROWS = 5


def _number(text: str) -> float | None:
    text = clean(text)
    number = parse_decimal(text)
    if number is None and re.fullmatch(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text, re.IGNORECASE):
        number = float(text)
    return number


def _find(header: list[str], *words: str) -> int | None:
    """The first column whose plain header holds all the words."""
    for index, name in enumerate(header):
        if all(word in name for word in words):
            return index
    return None


def _layout(rows: list[list[str]]) -> tuple[str, int] | None:
    """("module" | "inverter", header row index) for the first header row among the first rows."""
    for index, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        header = [fold(clean(cell)) for cell in row]
        if "modelo" not in header or "fabricante" not in header:
            continue
        power = _find(header, "potencia nominal")
        if power is None:
            return None
        if "(wp)" in header[power]:
            return "module", index
        if "(w)" in header[power]:
            return "inverter", index
        return None
    return None


def _is_front_sheet(rows: list[list[str]]) -> bool:
    """The tool's `Inicio` sheet: labels in the first column (`Módulo`, `Inversor`, `Quant. …`, `Temp. …`)."""
    labels = {fold(clean(row[0])) for row in rows[:30] if row}
    return {"modulo", "inversor"} <= labels and any(label.startswith(("quant", "temp")) for label in labels)


def read(path: Path) -> CatalogBatch:
    path = Path(path)
    text = read_text(path, LABEL, LAYOUTS)
    rows = csv_rows(path, text, LABEL, LAYOUTS)
    found = _layout(rows)
    if found is None:
        if _is_front_sheet(rows):
            raise CatalogFormatError(
                f"{path.name}: not a {LABEL} catalog: this is the sizing tool's front sheet (Inicio: an example "
                f"sizing of one module with one inverter), not a catalog; expected one of {LAYOUTS}; "
                f"found first rows {rows[:2]}"
            )
        what = "JSON" if text.lstrip().startswith(("[", "{")) else f"header {rows[0] if rows else []}"
        raise CatalogFormatError(f"{path.name}: not a {LABEL} catalog: expected one of {LAYOUTS}; found {what}")
    kind, header_index = found
    header_cells = [clean(cell) for cell in rows[header_index]]
    header = [fold(cell) for cell in header_cells]
    batch = CatalogBatch(distributor=DISTRIBUTOR, file=path.name)
    seen: dict[str, tuple[int, Product]] = {}
    for index, row in enumerate(rows[header_index + 1 :], start=1):
        result = _row(index, row, header_cells, header, kind)
        if isinstance(result, Product) and result.product_id in seen:
            first, first_product = seen[result.product_id]
            if same_content(result, first_product):
                batch.repeated += 1
                continue
            reason = f"conflicting copy of record {first} (same manufacturer and model, other values)"
            result = Rejected(index, reason, result.raw_record)
        if isinstance(result, Product):
            seen[result.product_id] = (index, result)
            batch.products.append(result)
        else:
            batch.rejected.append(result)
    return batch


def _raw(row: list[str], header_cells: list[str]) -> str:
    record: dict[str, str] = {}
    for index, value in enumerate(row):
        key = header_cells[index] if index < len(header_cells) and header_cells[index] else f"column_{index + 1}"
        while key in record:
            key += "'"
        record[key] = value
    return raw_json(record)


def _row(index: int, row: list[str], header_cells: list[str], header: list[str], kind: str) -> Product | Rejected:
    raw = _raw(row, header_cells)
    if not any(clean(cell) for cell in row):
        return Rejected(index, "empty row", raw)
    if len(row) != len(header):
        return Rejected(index, f"broken row: {len(row)} fields, the header has {len(header)}", raw)

    def cell(*words: str) -> str:
        column = _find(header, *words)
        return clean(row[column]) if column is not None else ""

    model, maker = cell("modelo"), cell("fabricante")
    if not model:
        return Rejected(index, "no model name", raw)
    if is_test_entry(model):
        return Rejected(index, f"test entry {model!r}", raw)
    power_text = cell("potencia nominal")
    power = _number(power_text)
    if power is None or power <= 0:
        return Rejected(index, f"no positive nominal power ({power_text!r})", raw)

    phases = voltage = efficiency = None
    if kind == "module":
        length, width = _number(cell("comprimento")), _number(cell("largura"))
        if length and width and length > 0 and width > 0:
            efficiency = round(power / (length * width / 1e6) / 10, 2)
            if not 5 <= efficiency <= 30:
                return Rejected(
                    index,
                    f"inconsistent fields: {power:g} Wp on {length:g} x {width:g} mm is {efficiency}% efficient",
                    raw,
                )
        category = classify_category([model], "module")
    else:
        maximum = _number(cell("potencia maxima"))
        if maximum and (maximum > 2 * power or power > 2 * maximum):
            return Rejected(index, f"inconsistent powers: nominal {power:g} W, maximum {maximum:g} VA", raw)
        single = fold(cell("monofasico")) == "sim"
        three = any(fold(row[i].strip()) == "sim" for i, name in enumerate(header) if "trifasico" in name)
        phases = 1 if single and not three else 3 if three and not single else None
        volts = _number(cell("tensao nominal minima de saida")) or _number(cell("tensao nominal maxima de saida"))
        voltage = round(volts) if volts else None
        category = classify_category([model], "inverter")

    manufacturer = normalize_manufacturer(maker or None) or known_manufacturer_in(model)
    return Product(
        distributor=DISTRIBUTOR,
        product_id=derived_id(DISTRIBUTOR, manufacturer or maker, model),
        category=category,
        name=" ".join(part for part in (maker, model) if part),
        manufacturer=manufacturer,
        model=model,
        power_w=power,
        price_brl=None,
        availability=None,
        phases=phases,
        voltage_v=voltage,
        efficiency_pct=efficiency,
        raw_record=raw,
    )
