"""Equipment certification lists, read into the rows of `aneel.certifications` (sql/002_aneel.sql).

Two sources, each with its reader:

* CEC (California Energy Commission) module and inverter lists as NREL SAM / pvlib ship them: a CSV whose first row
  holds the column names, followed by a `Units` row and a `[0]` row of SAM variable names (neither is equipment;
  both are optional here, so an export without them reads too). Modules: `Name` = `<Manufacturer> <model>` with a
  `Manufacturer` column; inverters: `Name` = `<manufacturer>: <model> [<Vac>V]`, one row per AC voltage variant
  (the model keeps its `[208V]` suffix, so each variant is its own row; matching drops it).
* INMETRO registrations (Brazil). INMETRO publishes no open dataset, so these come from third-party lists: the CSV
  layout `brand,title,registro,portaria,detentor,year,power,sub` (Portuguese header names are accepted too) or an
  XLSX export with the same columns. Registration numbers are `NNNNNN/AAAA`; a malformed one is a rejected record
  with its reason, never a loaded row. `registered_year` is the list's year, else the registration number's;
  `rated_power_w` comes from `0.8 kW` / `1 kW` / `800 W` (a unitless number only under a `power_w` / `potencia_kw`
  header); the equipment type is the caller's (`inverter` by default: the lists are per equipment type).

Every reader returns a `CertificationBatch`: the rows (`certifications`, a polars frame whose first columns are
`CERTIFICATION_COLUMNS`, the table's columns, in the table's order), the `rejected` records with their reasons, and
the `duplicates` it dropped. The `read_*` functions return the rows frame alone. Load with
`batch.certifications.select(CERTIFICATION_COLUMNS)`; the CEC frames carry `CEC_EXTRA_COLUMNS` after them:

* `cec_name` — the CEC `Name` as listed (the list's own unique key);
* `v_oc_ref`, `i_sc_ref`, `v_mp_ref`, `i_mp_ref` — module STC values (V, A) from the CEC list, for comparing with
  datasheets (null for inverters);
* `vac_v` — inverter nominal AC voltage (null for modules, and for the CEC rows whose `Vac` is 0).

Duplicated keys. The table's key is (equipment_type, certifier, manufacturer, model), with the manufacturer
normalized, so two listed spellings of one manufacturer (`Canadian Solar Inc` / `Canadian Solar Incorporated`) can
list the same model twice. Within one file the row with the latest listing date is kept, then the first in the file;
the others are returned in `duplicates` with the kept record's number. Same rule for INMETRO (latest registration
year, then first in the file).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl

from ysh_assets.catalog.records import (
    _CANONICAL,
    CatalogFormatError,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_decimal,
    parse_power_w,
    raw_json,
)

CERTIFICATION_COLUMNS: tuple[str, ...] = (
    "equipment_type",
    "certifier",
    "manufacturer",
    "model",
    "registration_id",
    "brand",
    "holder",
    "regulation",
    "status",
    "registered_year",
    "rated_power_w",
    "description",
    "source",
)
CEC_EXTRA_COLUMNS: tuple[str, ...] = ("cec_name", "v_oc_ref", "i_sc_ref", "v_mp_ref", "i_mp_ref", "vac_v")

_SCHEMA: dict[str, Any] = {
    "equipment_type": pl.String,
    "certifier": pl.String,
    "manufacturer": pl.String,
    "model": pl.String,
    "registration_id": pl.String,
    "brand": pl.String,
    "holder": pl.String,
    "regulation": pl.String,
    "status": pl.String,
    "registered_year": pl.Int16,
    "rated_power_w": pl.Float64,
    "description": pl.String,
    "source": pl.String,
}
_CEC_SCHEMA: dict[str, Any] = {
    **_SCHEMA,
    "cec_name": pl.String,
    "v_oc_ref": pl.Float64,
    "i_sc_ref": pl.Float64,
    "v_mp_ref": pl.Float64,
    "i_mp_ref": pl.Float64,
    "vac_v": pl.Float64,
}
_REJECTED_SCHEMA: dict[str, Any] = {"record": pl.Int64, "reason": pl.String, "raw_record": pl.String}

EQUIPMENT_TYPES = ("module", "inverter")


@dataclass
class CertificationBatch:
    file: str
    certifications: pl.DataFrame
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_REJECTED_SCHEMA))
    duplicates: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_REJECTED_SCHEMA))

    @property
    def duplicates_resolved(self) -> int:
        return self.duplicates.height


# ------------------------------------------------------------------------------------------------ shared helpers

_KNOWN = frozenset(_CANONICAL.values())


def canonical_manufacturer(name: str | None) -> str | None:
    """`normalize_manufacturer`, and for a name it does not know, the known brand the name contains as whole words
    (`Shenzhen Growatt New Energy Technology Co - Ltd` -> GROWATT, `SMA America` -> SMA, `Ningbo Ginlong
    Technologies` -> SOLIS). Idempotent, so products and certifications normalized by it meet."""
    normalized = normalize_manufacturer(name)
    if normalized is None or normalized in _KNOWN:
        return normalized
    return known_manufacturer_in(str(name)) or normalized


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).replace("\xa0", " ").split())
    return text or None


def _number(value: Any) -> float | None:
    """A plain or Brazilian decimal (`270.643`, `2,25`, `2.51E-10`); None for empty, `n/a` or anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value else None
    text = str(value).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return parse_decimal(text)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header_key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


# ------------------------------------------------------------------------------------------------ CEC

_CEC_LAYOUTS = {
    "module": ("Name", "Manufacturer", "STC"),
    "inverter": ("Name", "Paco"),
}
_CEC_EXPECTED = (
    "a CEC list as SAM/pvlib ship it: a CSV whose header row names the columns (modules: Name, Manufacturer, "
    "Technology, STC, PTC, ..., I_sc_ref, V_oc_ref, I_mp_ref, V_mp_ref, ..., Date; inverters: Name, Vac, Pso, Paco, "
    "Pdco, ..., CEC_Date), optionally followed by a 'Units' row and a '[0]' row of SAM variable names"
)
_SAM_ROW = re.compile(r"^\[\d+\]$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _listing_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        if match := _US_DATE.match(text):
            month, day, year = (int(g) for g in match.groups())
            return date(year, month, day)
        if match := _ISO_DATE.match(text):
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None


def _cec_frame(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(io.StringIO(_decode(path)), infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, ValueError) as error:
        raise CatalogFormatError(f"{path.name}: not readable as {_CEC_EXPECTED} ({error})") from error
    return frame.rename({c: c.strip() for c in frame.columns})


def _strip_prefix(name: str, prefix: str) -> str | None:
    """`name` without its leading `prefix` (case-insensitive, on a word boundary), or None when it does not lead."""
    if prefix and name.lower().startswith(prefix.lower()):
        rest = name[len(prefix) :]
        if not rest or not rest[0].isalnum() or not prefix[-1].isalnum():
            return rest.strip(" :-_").strip() or None
    return None


def _cec_split(row: dict[str, str | None]) -> tuple[str, str] | str:
    """(listed manufacturer, model) from a CEC row, or the reason it has none.

    With a Manufacturer column (modules): the Name minus the manufacturer that leads it (the Name alone when it does
    not lead). Without one (inverters): the Name split at its first colon, `<manufacturer>: <model>`."""
    name = _text(row.get("Name"))
    if not name:
        return "no Name"
    listed = _text(row.get("Manufacturer"))
    if listed:
        model = _strip_prefix(name, listed)
        if model is None:
            model = _strip_prefix(name, listed.replace("_", ",")) or name
        return listed, model
    if ":" not in name:
        return f"Name {name!r} is not '<manufacturer>: <model>'"
    manufacturer, model = (part.strip() for part in name.split(":", 1))
    if not manufacturer or not model:
        return f"Name {name!r} is not '<manufacturer>: <model>'"
    return manufacturer, model


def _cec_description(equipment_type: str, row: dict[str, str | None]) -> str | None:
    parts: list[str] = []
    if equipment_type == "module":
        parts.append(_text(row.get("Technology")) or "")
        if cells := _number(row.get("N_s")):
            parts.append(f"{int(cells)} cells in series")
        if _text(row.get("Bifacial")) in ("1", "Y", "y"):
            parts.append("bifacial")
        if _text(row.get("BIPV")) in ("Y", "y", "1"):
            parts.append("BIPV")
        if (ptc := _number(row.get("PTC"))) is not None:
            parts.append(f"PTC {ptc:g} W")
        listed = _text(row.get("Date"))
    else:
        parts.append(_text(row.get("CEC_Type")) or "")
        if vac := _number(row.get("Vac")):
            parts.append(f"{vac:g} V AC")
        if (vdcmax := _number(row.get("Vdcmax"))) is not None:
            parts.append(f"max {vdcmax:g} V DC")
        low, high = _number(row.get("Mppt_low")), _number(row.get("Mppt_high"))
        if low is not None and high is not None:
            parts.append(f"MPPT {low:g}-{high:g} V")
        if _text(row.get("CEC_hybrid")) == "Y":
            parts.append("hybrid")
        listed = _text(row.get("CEC_Date"))
    if _listing_date(listed):
        parts.append(f"CEC listing {listed}")
    text = ", ".join(p for p in parts if p)
    return text or None


def load_cec(path: str | Path, equipment_type: str) -> CertificationBatch:
    """Every equipment row of a CEC module or inverter list (see the module docstring)."""
    path = Path(path)
    if equipment_type not in _CEC_LAYOUTS:
        raise ValueError(f"equipment_type must be one of {sorted(_CEC_LAYOUTS)}, not {equipment_type!r}")
    frame = _cec_frame(path)
    missing = [c for c in _CEC_LAYOUTS[equipment_type] if c not in frame.columns]
    if missing:
        other = next(
            (t for t, cols in _CEC_LAYOUTS.items() if t != equipment_type and set(cols) <= set(frame.columns)), None
        )
        hint = f" (it looks like the CEC {other} list)" if other else ""
        raise CatalogFormatError(
            f"{path.name}: not a CEC {equipment_type} list{hint}: missing column(s) {', '.join(missing)}; "
            f"expected {_CEC_EXPECTED}; found header {frame.columns[:12]}"
        )
    rows = frame.to_dicts()
    skip = 0  # the Units row and the SAM-name row, where present, lead the data
    while skip < min(2, len(rows)):
        first = (rows[skip].get("Name") or "").strip()
        if first.lower() != "units" and not _SAM_ROW.match(first):
            break
        skip += 1
    records: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for number, row in enumerate(rows[skip:], start=1):
        split = _cec_split(row)
        if isinstance(split, str):
            rejected.append({"record": number, "reason": split, "raw_record": raw_json(row)})
            continue
        listed, model = split
        listed_display = listed.replace("_", ",")  # the CEC lists write commas in names as `_`
        manufacturer = canonical_manufacturer(listed_display)
        date_text = _text(row.get("Date" if equipment_type == "module" else "CEC_Date"))
        listing = _listing_date(date_text)
        power = _number(row.get("STC" if equipment_type == "module" else "Paco"))
        vac = _number(row.get("Vac")) if equipment_type == "inverter" else None
        records.append(
            {
                "equipment_type": equipment_type,
                "certifier": "CEC",
                "manufacturer": manufacturer,
                "model": model,
                "registration_id": None,
                "brand": None,
                "holder": listed_display,
                "regulation": None,
                "status": None,
                "registered_year": listing.year if listing else None,
                "rated_power_w": round(power, 2) if power is not None else None,
                "description": _cec_description(equipment_type, row),
                "source": path.name,
                "cec_name": _text(row.get("Name")),
                "v_oc_ref": _number(row.get("V_oc_ref")) if equipment_type == "module" else None,
                "i_sc_ref": _number(row.get("I_sc_ref")) if equipment_type == "module" else None,
                "v_mp_ref": _number(row.get("V_mp_ref")) if equipment_type == "module" else None,
                "i_mp_ref": _number(row.get("I_mp_ref")) if equipment_type == "module" else None,
                "vac_v": vac or None,
                "_record": number,
                "_listing": listing,
                "_raw": row,
            }
        )
    kept, duplicates = _resolve_duplicates(records, "latest CEC listing date")
    return CertificationBatch(
        file=path.name,
        certifications=pl.DataFrame(kept, schema=_CEC_SCHEMA),
        rejected=pl.DataFrame(rejected, schema=_REJECTED_SCHEMA),
        duplicates=pl.DataFrame(duplicates, schema=_REJECTED_SCHEMA),
    )


def read_cec(path: str | Path, equipment_type: str) -> pl.DataFrame:
    """The certification rows of a CEC list (`load_cec(...).certifications`)."""
    return load_cec(path, equipment_type).certifications


def _resolve_duplicates(records: list[dict[str, Any]], rule: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One record per (equipment_type, certifier, manufacturer, model): the one with the latest `_listing`, then the
    first in the file; the others as duplicates naming the kept record. File order is preserved for the kept ones."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        key = (record["equipment_type"], record["certifier"], record["manufacturer"], record["model"])
        held = best.get(key)
        newer = record["_listing"] is not None and (
            held is None or held["_listing"] is None or record["_listing"] > held["_listing"]
        )
        if held is None or newer:
            best[key] = record
    kept: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    for record in records:
        key = (record["equipment_type"], record["certifier"], record["manufacturer"], record["model"])
        winner = best[key]
        if winner is record:
            kept.append(record)
        else:
            duplicates.append(
                {
                    "record": record["_record"],
                    "reason": f"duplicate of record {winner['_record']} (same manufacturer {key[2]!r} and model "
                    f"{key[3]!r}; kept the {rule}, then the first in the file)",
                    "raw_record": raw_json(record["_raw"]),
                }
            )
    return [{k: v for k, v in record.items() if not k.startswith("_")} for record in kept], duplicates


# ------------------------------------------------------------------------------------------------ INMETRO

REGISTRATION_ID = re.compile(r"^\d{6}/\d{4}$")

# header key (see _header_key) -> field
_INMETRO_HEADERS = {
    "brand": "brand",
    "marca": "brand",
    "fabricante": "brand",
    "manufacturer": "brand",
    "title": "model",
    "titulo": "model",
    "model": "model",
    "modelo": "model",
    "registro": "registration_id",
    "registration": "registration_id",
    "registration_id": "registration_id",
    "numero_do_registro": "registration_id",
    "n_registro": "registration_id",
    "no_registro": "registration_id",  # `Nº Registro` (º decomposes to o)
    "numero_registro": "registration_id",
    "registro_inmetro": "registration_id",
    "portaria": "regulation",
    "regulation": "regulation",
    "regulamento": "regulation",
    "detentor": "holder",
    "holder": "holder",
    "detentor_do_registro": "holder",
    "year": "year",
    "ano": "year",
    "power": "power",
    "potencia": "power",
    "potencia_kw": "power_kw",
    "power_kw": "power_kw",
    "potencia_w": "power_w",
    "power_w": "power_w",
    "sub": "description",
    "descricao": "description",
    "description": "description",
    "status": "status",
    "situacao": "status",
}
_INMETRO_REQUIRED = ("registration_id", "model")
_INMETRO_EXPECTED = (
    "an INMETRO registration list with the header brand,title,registro,portaria,detentor,year,power,sub "
    "(or marca/modelo/registro/portaria/detentor/ano/potencia/descricao; status or situacao optional): "
    "at least registro and title/modelo, and brand/marca or detentor"
)


def _inmetro_power(value: Any, field_name: str) -> float | None:
    """W from `0.8 kW` / `1 kW` / `800 W`; a bare number only in a column whose header names its unit (`power_w`,
    `potencia_kw`): a unitless number in a plain `power` column is not guessed."""
    if value is None or isinstance(value, bool):
        return None
    if field_name == "power":
        return parse_power_w(str(value))
    number = _number(value)
    if number is None:
        return parse_power_w(str(value))
    return round(number * (1000.0 if field_name == "power_kw" else 1.0), 6)


def _inmetro_rows(rows: list[list[Any]], file: str, equipment_type: str) -> CertificationBatch:
    """The shared part of the CSV and XLSX readers: `rows` are the sheet's rows, header first (blank or title rows
    before the header are skipped)."""
    header_at, mapping = None, {}
    for index, row in enumerate(rows[:20]):
        keys = {i: _INMETRO_HEADERS.get(_header_key(str(cell))) for i, cell in enumerate(row) if cell not in (None, "")}
        found = {v for v in keys.values() if v}
        if set(_INMETRO_REQUIRED) <= found and found & {"brand", "holder"}:
            header_at, mapping = index, {i: f for i, f in keys.items() if f}
            break
    if header_at is None:
        shown = next((r for r in rows if any(c not in (None, "") for c in r)), [])
        raise CatalogFormatError(
            f"{file}: not an INMETRO registration list: expected {_INMETRO_EXPECTED}; found {shown[:10]}"
        )
    header = [str(c) if c is not None else "" for c in rows[header_at]]
    records: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for number, row in enumerate(rows[header_at + 1 :], start=1):
        if all(cell in (None, "") or not str(cell).strip() for cell in row):
            continue
        raw = {header[i] if i < len(header) and header[i] else f"column_{i + 1}": cell for i, cell in enumerate(row)}
        values: dict[str, Any] = {}
        for i, field_name in mapping.items():
            if i < len(row) and field_name not in values:
                values[field_name] = row[i]
        registration = _text(values.get("registration_id"))
        model = _text(values.get("model"))
        brand = _text(values.get("brand"))
        holder = _text(values.get("holder"))
        reason = None
        if not registration:
            reason = "no registration number"
        elif not REGISTRATION_ID.match(registration):
            reason = f"malformed registration number {registration!r} (expected NNNNNN/AAAA)"
        elif not 1990 <= int(registration[-4:]) <= 2100:
            reason = f"registration number {registration!r} has an implausible year"
        elif not model:
            reason = "no model"
        elif not (brand or holder):
            reason = "no brand nor holder"
        if reason:
            rejected.append({"record": number, "reason": reason, "raw_record": raw_json(raw)})
            continue
        year_number = _number(values.get("year"))
        year = int(year_number) if year_number is not None and 1990 <= year_number <= 2100 else None
        power_field = next((f for f in ("power", "power_w", "power_kw") if f in values), None)
        power = _inmetro_power(values[power_field], power_field) if power_field else None
        records.append(
            {
                "equipment_type": equipment_type,
                "certifier": "INMETRO",
                "manufacturer": canonical_manufacturer(brand or holder),
                "model": model,
                "registration_id": registration,
                "brand": brand,
                "holder": holder,
                "regulation": _text(values.get("regulation")),
                "status": _text(values.get("status")),
                "registered_year": year if year is not None else int(registration[-4:]),
                "rated_power_w": round(power, 2) if power is not None else None,
                "description": _text(values.get("description")),
                "source": file,
                "_record": number,
                "_listing": (year if year is not None else int(registration[-4:]), registration[-4:]),
                "_raw": raw,
            }
        )
    kept, duplicates = _resolve_duplicates(records, "latest registration year")
    return CertificationBatch(
        file=file,
        certifications=pl.DataFrame(kept, schema=_SCHEMA),
        rejected=pl.DataFrame(rejected, schema=_REJECTED_SCHEMA),
        duplicates=pl.DataFrame(duplicates, schema=_REJECTED_SCHEMA),
    )


def load_inmetro_csv(path: str | Path, equipment_type: str = "inverter") -> CertificationBatch:
    """An INMETRO registration list in CSV (`,` or `;` separated, UTF-8 or latin-1)."""
    path = Path(path)
    text = _decode(path)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    rows = [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return _inmetro_rows(rows, path.name, equipment_type)


def read_inmetro_csv(path: str | Path, equipment_type: str = "inverter") -> pl.DataFrame:
    """The certification rows of an INMETRO CSV list (`load_inmetro_csv(...).certifications`)."""
    return load_inmetro_csv(path, equipment_type).certifications


def load_inmetro_xlsx(
    path: str | Path, equipment_type: str = "inverter", sheet: str | None = None
) -> CertificationBatch:
    """An INMETRO registration list exported as XLSX (the first sheet, or `sheet`), same columns as the CSV; cached
    values are read, formulas are not evaluated."""
    path = Path(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises several types for a file that is not a workbook
        raise CatalogFormatError(
            f"{path.name}: not an XLSX workbook ({error}); expected {_INMETRO_EXPECTED}"
        ) from error
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise CatalogFormatError(f"{path.name}: no sheet {sheet!r} (sheets: {workbook.sheetnames})")
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        rows = [list(row) for row in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _inmetro_rows(rows, path.name, equipment_type)


def read_inmetro_xlsx(path: str | Path, equipment_type: str = "inverter", sheet: str | None = None) -> pl.DataFrame:
    """The certification rows of an INMETRO XLSX export (`load_inmetro_xlsx(...).certifications`)."""
    return load_inmetro_xlsx(path, equipment_type, sheet).certifications


CERTIFICATION_SCHEMA = pl.Schema(_CEC_SCHEMA)
_INMETRO_HEADER = re.compile(r"\b(registro|registration|detentor|portaria)\b", re.IGNORECASE)


def load_certification_file(
    path: str | Path, name: str | None = None, equipment_type: str | None = None
) -> CertificationBatch | None:
    """A certification list read by the reader its content calls for: a CEC module or inverter list (by its
    header), an INMETRO export (CSV or XLSX, by its header or ZIP signature; inverters). Other files are refused.
    With `equipment_type`, a list of another type is recognised by its header and not parsed (None)."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(4096)
    header = "" if head.startswith(b"PK\x03\x04") else head.decode("utf-8-sig", errors="replace").split("\n", 1)[0]
    columns = {c.strip() for c in header.split(",")}
    cec = next((kind for kind, needed in _CEC_LAYOUTS.items() if set(needed) <= columns), None)
    if not header:
        kind, load = "inverter", load_inmetro_xlsx
    elif cec:
        kind, load = cec, lambda p: load_cec(p, cec)
    elif _INMETRO_HEADER.search(header):
        kind, load = "inverter", load_inmetro_csv
    else:
        raise CatalogFormatError(
            f"{name or path.name}: not a certification list: expected {_CEC_EXPECTED}, or {_INMETRO_EXPECTED}"
        )
    if equipment_type is not None and kind != equipment_type:
        return None
    batch = load(path)
    batch.file = name or batch.file
    batch.certifications = batch.certifications.select(
        [pl.col(c) if c in batch.certifications.columns else pl.lit(None, t).alias(c) for c, t in _CEC_SCHEMA.items()]
    )
    return batch
