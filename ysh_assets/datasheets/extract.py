"""Rule-based spec extraction from manufacturer datasheet PDFs (no LLM, no network).

Each page becomes positioned lines (`layout`: the text layer's character boxes, or Tesseract's words for a page
without a usable text layer), a general table reader (`tables`) finds the spec tables by their row labels and
assigns values to models by geometry, and physics (`physics`) drops readings that contradict each other.
Precision beats recall: a value is kept only when its label, unit, plausible range and physics all agree.

pdfplumber is not used: its word and table finder reads about 1 page/s here (see the README), and the reader
needs positioned words only, which pypdfium2's character boxes give at text-layer speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium

from ysh_assets.datasheets import physics
from ysh_assets.datasheets.layout import Line, clean_text, pdf_lines, usable_text
from ysh_assets.datasheets.ocr import ocr_available, ocr_lines
from ysh_assets.datasheets.tables import MODULE_ELECTRICAL, SheetTables, Table, read_tables
from ysh_assets.datasheets.values import NUM, SPEC_FIELDS, parse_number

__all__ = ["EQUIPMENT_TYPES", "SPEC_FIELDS", "Extraction", "FieldValue", "SpecRecord", "extract_pdf", "parse_number"]

EQUIPMENT_TYPES = ("module", "inverter_string", "inverter_micro", "inverter_hybrid", "battery")
# Bump when a change to the rules alters what a datasheet yields: it is `datasheets/enriched_pdfs`' code version,
# and a new one re-extracts every stored PDF (automation.REEXTRACT_ON_NEW_VERSION).
EXTRACTOR_VERSION = "1"


@dataclass
class FieldValue:
    value: float | int | str
    page: int
    source: str = "rules"


@dataclass
class SpecRecord:
    model: str
    manufacturer: str | None
    equipment_type: str | None
    fields: dict[str, FieldValue] = field(default_factory=dict)


@dataclass
class Extraction:
    pages: int
    has_text_layer: bool
    manufacturer: str | None
    equipment_type: str | None
    certifications: list[str]
    specs: list[SpecRecord]
    ocr_pages: list[int] = field(default_factory=list)  # pages read by OCR
    unreadable_pages: list[int] = field(default_factory=list)  # no usable text layer and no OCR available
    ocr_unavailable: str | None = None  # why OCR could not run, when a page needed it
    rejected: list[physics.Rejection] = field(default_factory=list)  # readings physics refused
    no_specs_reason: str | None = None  # why no specs came out, instead of a guess
    page_texts: list[str] = field(default_factory=list)  # per page: the text layer, or the OCR text

    def to_json(self) -> dict:
        """Plain dict for JSON sinks; units come from SPEC_FIELDS so consumers need no second lookup."""
        return {
            "pages": self.pages,
            "has_text_layer": self.has_text_layer,
            "manufacturer": self.manufacturer,
            "equipment_type": self.equipment_type,
            "certifications": list(self.certifications),
            "ocr_pages": list(self.ocr_pages),
            "unreadable_pages": list(self.unreadable_pages),
            "ocr_unavailable": self.ocr_unavailable,
            "rejected": [r.to_json() for r in self.rejected],
            "no_specs_reason": self.no_specs_reason,
            "specs": [
                {
                    "model": rec.model,
                    "manufacturer": rec.manufacturer,
                    "equipment_type": rec.equipment_type,
                    "fields": {
                        name: {"value": fv.value, "unit": SPEC_FIELDS[name], "page": fv.page, "source": fv.source}
                        for name, fv in rec.fields.items()
                    },
                }
                for rec in self.specs
            ],
        }


# --------------------------------------------------------------------------------------------------------------
# Document-level facts

_MANUFACTURERS: list[tuple[str, str]] = [
    ("Jinko Solar", r"jinko\s?solar|\bjkm\d"),
    ("Q CELLS", r"q[ .\-]?cells|hanwha"),
    ("SMA", r"\bsma solar\b|\bsunny boy\b|\bsma\b"),
    ("Sungrow", r"sungrow"),
    ("BYD", r"\bbyd\b"),
    ("SOFAR", r"\bsofar\b"),
    ("Canadian Solar", r"canadian\s?solar"),
    ("Trina Solar", r"trina\s?solar"),
    ("LONGi", r"\blongi\b"),
    ("JA Solar", r"\bja\s?solar\b"),
    ("Risen", r"risen energy"),
    ("Growatt", r"growatt"),
    ("Fronius", r"fronius"),
    ("Huawei", r"huawei"),
    ("GoodWe", r"goodwe"),
    ("Deye", r"\bdeye\b"),
    ("Enphase", r"enphase"),
    ("Hoymiles", r"hoymiles"),
    ("APsystems", r"apsystems"),
    ("Solis", r"\bsolis\b|ginlong"),
    ("Pylontech", r"pylontech"),
    ("WEG", r"\bweg\b"),
    ("SolarEdge", r"solar\s?edge"),
    ("EG4", r"\beg4\b"),
    ("Dawnice", r"dawnice"),
    ("HT-SAAE", r"ht-?saae|shanghai aerospace"),
    ("Astronergy", r"astronergy|chint"),
    ("Tongwei", r"tongwei"),
    ("DAH Solar", r"\bdah\s?solar"),
    ("Sunova", r"sunova"),
    ("Leapton", r"leapton"),
    ("Seraphim", r"seraphim"),
    ("ZNShine", r"znshine"),
    ("Yingli", r"yingli"),
    ("GCL", r"\bgcl\b"),
    ("REC", r"\brec solar\b|\brec group\b"),
    ("Maxeon", r"maxeon|sunpower"),
    ("Solax", r"\bsolax\b"),
    ("Intelbras", r"intelbras"),
    ("Victron", r"victron"),
    ("Tesla", r"\btesla\b"),
    ("Dyness", r"dyness"),
    ("Livoltek", r"livoltek"),
    ("Fox ESS", r"fox\s?ess"),
]


def _manufacturer(text: str) -> str | None:
    """The most frequently named known manufacturer; partners and compatible brands are named less often."""
    counts = {name: len(re.findall(pattern, text, re.IGNORECASE)) for name, pattern in _MANUFACTURERS}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else None


_TYPE_CUES = {
    "module": r"open[- ]?circuit voltage|short[- ]?circuit current|module efficiency|\bpmpp\b|\bpmax\b|\bnoct\b"
    r"|\bnmot\b|solar (half )?cells?\b|mono-?crystalline|power class|bypass diode",
    "inverter": r"\binverter\b|\bmppt\b|mpp voltage range|mpp inputs|feed-in phases|nominal ac|ac output"
    r"|grid frequency",
    "battery": r"usable (energy|capacity)|\bbattery\b|\blfp\b|lithium iron|depth of discharge|\bdod\b",
}


def _equipment_type(text: str) -> str | None:
    scores = {kind: len(re.findall(pattern, text, re.IGNORECASE)) for kind, pattern in _TYPE_CUES.items()}
    kind = max(scores, key=lambda k: scores[k])
    if not scores[kind]:
        return None
    if kind != "inverter":
        return kind
    if re.search(r"micro[- ]?inverter", text, re.IGNORECASE):
        return "inverter_micro"
    if re.search(
        r"\bhybrid\b|battery (input|voltage|port)|charge battery|\(pv and battery\)|energy storage", text, re.I
    ):
        return "inverter_hybrid"
    return "inverter_string"


# Product-certification standards only: test-method references (IEC 60904, IEC 60529, IEC 62804...) are left out.
_CERT_PATTERNS: list[tuple[str, str]] = [
    (r"\bIEC\s?/?\s?(61215|61730|62109|61727|62116|62619|61683|62040|63027|62477|61000-6-[1-4])(-\d)?", "IEC"),
    (r"\bUL\s?(1703|61730|1741|9540A?|1973|1699B)\b", "UL"),
    (r"\bVDE[\s-]?AR[\s-]?N[\s-]?(4105|4110|4120)\b", "VDE-AR-N"),
    (r"\bVDE\s?(0126-1-1|2510-50)\b", "VDE"),
    (r"\bABNT\s?NBR\s?(16149|16150|16274|16690)\b", "ABNT NBR"),
    (r"\bNBR\s?(16149|16150|16274|16690)\b", "ABNT NBR"),
    (r"\bEN\s?(50438|50549|62109-[12])\b", "EN"),
    (r"\bAS\s?(4777(?:\.[23])?)\b", "AS"),
    (r"\bUN\s?38\.3\b", "UN 38.3"),
    (r"\bINMETRO\b", "INMETRO"),
]


def _certifications(text: str) -> list[str]:
    """Normalized certification names ("IEC 61215", "IEC 62109-1", "ABNT NBR 16149"), sorted and unique."""
    found: set[str] = set()
    flat = clean_text(text)
    for pattern, prefix in _CERT_PATTERNS:
        for match in re.finditer(pattern, flat, re.IGNORECASE):
            if prefix in ("UN 38.3", "INMETRO"):
                found.add(prefix)
            elif prefix == "IEC":
                base, part = match.group(1), match.group(2) or ""
                found.add(f"IEC {base}{part}")
                # "IEC 62109-1/2" names both parts.
                second = re.match(r"/\s?(\d)\b", flat[match.end() :])
                if part and second:
                    found.add(f"IEC {base}-{second.group(1)}")
            else:
                found.add(f"{prefix} {match.group(1)}")
    return sorted(found)


# --------------------------------------------------------------------------------------------------------------
# Records from the tables

_POWER_CLASS = re.compile(r"^(\d{2,4}(?:\.\d)?)\s*(?:wp?)?$", re.IGNORECASE)
_MEASURE = re.compile(rf"^[≥≤<>~]?\s*{NUM}\s*[a-z%°]{{0,4}}$", re.IGNORECASE)
# Values that are the same for every model of a sheet, so a label/value row outside the model table applies to all.
SHARED_FIELDS = frozenset(
    {
        "temp_coeff_pmax_pct_per_c",
        "temp_coeff_voc_pct_per_c",
        "temp_coeff_isc_pct_per_c",
        "length_mm",
        "width_mm",
        "thickness_mm",
        "weight_kg",
        "max_dc_voltage_v",
        "mppt_min_v",
        "mppt_max_v",
        "phases",
        "nominal_voltage_v",
    }
)


def _series(lines: list[Line]) -> str | None:
    """The product series: the largest-type model code on the first page ('TSM-NEG19RC.20 590-620W' ->
    'TSM-NEG19RC.20'; a title over two lines, 'Q.PEAK DUO BLK' / 'ML-G10+ SERIES', is joined), used to name
    power-class columns ('TSM-NEG19RC.20 590')."""
    best: tuple[float, str] | None = None
    above: list[tuple[float, float, float, str]] = []  # (x0, y, size, text) of earlier large cells
    for line in (line for line in lines if line.page == 1):
        for cell in line.cells:
            size = cell_size(line, cell)
            texts = [cell.text]
            for x0, y, other_size, text in above:
                if abs(x0 - cell.x0) < 5 and abs(other_size - size) < 0.15 * size and 0 < line.y - y < 1.6 * size:
                    texts.insert(0, f"{text} {cell.text}")
            above.append((cell.x0, line.y, size, cell.text))
            for raw in texts:
                text = re.sub(r"\s*\b\d{2,4}\s*[-~\u2013]\s*\d{2,4}\s*w?p?\b.*$", "", raw, flags=re.I)
                text = re.sub(r"\s+(series|serie|série)$", "", text.strip(), flags=re.I)
                if _plausible_series(text) and (best is None or size > best[0] + 0.5):
                    best = (size, text)
                    break
    return best[1] if best else None


def _plausible_series(text: str) -> bool:
    return (
        3 <= len(text) <= 40
        and len(text.split()) <= 5
        and bool(re.search(r"\d", text))
        and len(re.findall(r"[A-Za-z]", text)) >= 2
        and bool(re.search(r"[A-Z]", text))
        and not _MEASURE.match(text)
        and not re.search(r"[,;:!?®©™]|www|@|\b[A-Za-z] [A-Za-z] ", text)
    )


def cell_size(line: Line, cell) -> float:
    return max((w.size for w in cell.words), default=line.size)


def _expand(name: str, words: set[str]) -> str:
    """A short column header ('3.8K') named in full elsewhere on the sheet ('S6-EH1P3.8K-H-US')."""
    if len(name) > 6 or not re.search(r"\d", name):
        return name
    pattern = re.compile(rf"(?<![\d.]){re.escape(name)}(?![\d.])", re.IGNORECASE)
    full = {w for w in words if w != name and pattern.search(w) and 6 < len(w) <= 32 and re.search(r"[A-Za-z]{2}", w)}
    return full.pop() if len(full) == 1 else name


def _model_names(table: Table, series: str | None, words: set[str]) -> list[str]:
    names = []
    for column in table.columns:
        name = re.sub(r"\s+", " ", column.name).strip()
        power = _POWER_CLASS.match(name)
        if power:
            base = table.series_header or series
            name = f"{base} {power.group(1)}" if base else f"{power.group(1)} W"
        else:
            name = _expand(name, words)
        names.append(name)
    return names


def _sheet_model(read: SheetTables, series: str | None) -> str | None:
    """The model of a label/value sheet: a model header with no rows of its own ('MODEL #: 18KPV-V-12LV'),
    else the series."""
    for table in read.tables:
        first = table.columns[0] if table.columns else None
        if not table.values and first and first.labelled and not _POWER_CLASS.match(first.name):
            return re.sub(r"\s+", " ", first.name).strip()
    return series


def _guard(
    family: str, records: list[tuple[str, dict[str, tuple]]], rejected: list[physics.Rejection]
) -> list[tuple[str, dict[str, tuple]]]:
    """Drop readings that break physics (per model, then monotone over one table's power classes)."""
    for name, fields in records:
        values = {k: v[0] for k, v in fields.items()}
        bad = physics.module_violations(values) if family == "module" else physics.inverter_violations(name, values)
        for fname, reason in bad.items():
            if fname in fields:
                rejected.append(physics.Rejection(name, fname, fields.pop(fname)[0], reason))
    if family == "module" and len(records) >= 3:
        ordered = sorted(records, key=lambda r: r[1].get("pmax_w", (float("inf"),))[0])
        for fname in physics.MONOTONE_FIELDS:
            series = [fields.get(fname, (None,))[0] for _, fields in ordered]
            for index in sorted(physics.non_monotone(series)):
                name, fields = ordered[index]
                value = fields.pop(fname)[0]
                rejected.append(physics.Rejection(name, fname, value, "breaks the trend over the power classes"))
    return records


def _records(
    read: SheetTables, lines: list[Line], family: str, manufacturer, equipment, sources: dict[int, str]
) -> tuple[list[SpecRecord], list[physics.Rejection]]:
    series = _series(lines)
    words = {w.text for line in lines for w in line.words}
    rejected: list[physics.Rejection] = []
    shared = read.sheet.values.get(0, {})
    per_table: list[list[tuple[str, dict[str, tuple]]]] = []
    for table in read.tables:
        names = _model_names(table, series, words)
        rows = [(names[i], dict(table.values[i])) for i in range(len(table.columns)) if table.values.get(i)]
        if rows:
            per_table.append(rows)
    if not per_table and shared:
        name = _sheet_model(read, series)
        if name:
            per_table.append([(name, dict(shared))])
            shared = {}
    records: dict[str, SpecRecord] = {}
    for rows in per_table:
        for _, fields in rows:
            for fname, reading in shared.items():
                if fname in SHARED_FIELDS and not (family == "module" and fname in MODULE_ELECTRICAL):
                    fields.setdefault(fname, reading)
        for name, fields in _guard(family, rows, rejected):
            if not fields:
                continue
            record = records.setdefault(name, SpecRecord(name, manufacturer, equipment))
            for fname, (value, page) in fields.items():
                record.fields.setdefault(fname, FieldValue(value, page, sources.get(page, "rules")))
    return list(records.values()), rejected


def records_from_lines(
    lines: list[Line],
    family: str,
    manufacturer: str | None = None,
    equipment: str | None = None,
    sources: dict[int, str] | None = None,
    *,
    phases: int | None = None,
) -> tuple[list[SpecRecord], list[physics.Rejection]]:
    """Per-model records from a sheet's positioned lines (text layer or OCR), after the physics guards."""
    read = read_tables(lines, family)
    if phases:
        read.sheet.values.setdefault(0, {}).setdefault("phases", (phases, 1))
    return _records(read, lines, family, manufacturer, equipment, sources or {})


def _phases(text: str) -> int | None:
    """Single or three phase when the sheet names one clearly more often than the other (split-phase 240 V is
    single-phase; a 'supports 3ph generators' feature line does not make a single-phase inverter three-phase)."""
    single = len(re.findall(r"single[- ]?phase|split[- ]?phase|monof[aá]sic|\b1[- ]?ph\b|einphasig", text, re.I))
    three = len(re.findall(r"three[- ]?phase|trif[aá]sic|\b3[- ]?ph\b|dreiphasig", text, re.I))
    if single >= max(1, 2 * three):
        return 1
    if three >= max(1, 2 * single):
        return 3
    return None


def _family(equipment: str | None) -> str | None:
    if equipment is None:
        return None
    return "inverter" if equipment.startswith("inverter") else equipment


def extract_pdf(path: str | Path, *, ocr: bool = True) -> Extraction:
    """Extract document facts and per-model specs from one datasheet; pure and deterministic.

    Pages whose text layer is unusable are read by OCR when Tesseract is installed (`ocr=False` skips it)."""
    doc = pdfium.PdfDocument(str(path))
    lines: list[Line] = []
    texts: list[str] = []
    sources: dict[int, str] = {}
    ocr_pages: list[int] = []
    unreadable: list[int] = []
    why_no_ocr = None
    try:
        pages = len(doc)
        for index in range(pages):
            page = doc[index]
            text = page.get_textpage().get_text_range()
            if usable_text(text):
                lines.extend(pdf_lines(page, index + 1))
                texts.append(text)
                continue
            why_no_ocr = why_no_ocr or (ocr_available() if ocr else "OCR turned off")
            if why_no_ocr:
                unreadable.append(index + 1)
                texts.append("")
                continue
            page_lines = ocr_lines(page, index + 1)
            lines.extend(page_lines)
            texts.append("\n".join(line.text for line in page_lines))
            sources[index + 1] = "ocr"
            ocr_pages.append(index + 1)
    finally:
        doc.close()
    has_text = len(unreadable) + len(ocr_pages) < pages
    full = clean_text(" \n ".join(texts)) if texts else ""
    manufacturer = _manufacturer(full) if full else None
    equipment = _equipment_type(full) if full else None
    family = _family(equipment)
    specs: list[SpecRecord] = []
    rejected: list[physics.Rejection] = []
    if family:
        phases = _phases(full) if family == "inverter" else None
        specs, rejected = records_from_lines(lines, family, manufacturer, equipment, sources, phases=phases)
    reason = None
    if not specs:
        if unreadable and not lines:
            reason = f"no usable text layer and no OCR: {why_no_ocr}"
        elif family is None:
            reason = "no equipment type recognised: not a module, inverter or battery datasheet"
        else:
            reason = "no spec table found: no labelled row of values matched a model column"
    return Extraction(
        pages,
        has_text,
        manufacturer,
        equipment,
        _certifications(full),
        specs,
        ocr_pages=ocr_pages,
        unreadable_pages=unreadable,
        ocr_unavailable=why_no_ocr if unreadable else None,
        rejected=rejected,
        no_specs_reason=reason,
        page_texts=texts,
    )
