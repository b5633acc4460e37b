"""Rule-based spec extraction from manufacturer datasheet PDFs (no LLM, no network).

Datasheet text layers are unreliable in reading order: row labels come out far from their values, values
come before labels, STC and NOCT columns interleave. Reading order is therefore ignored; the page is rebuilt
from pypdfium2's positioned text runs into rows (same baseline) and cells (runs separated by a visible gap),
which recovers the spec table layout at text-layer speed. pdfplumber (about 1 page/s here) is not needed.

Precision beats recall: a value is kept only when its row label, unit and plausibility range all agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium

SPEC_FIELDS: dict[str, str] = {
    "pmax_w": "W",
    "vmp_v": "V",
    "imp_a": "A",
    "voc_v": "V",
    "isc_a": "A",
    "efficiency_pct": "%",
    "temp_coeff_pmax_pct_per_c": "%/°C",
    "temp_coeff_voc_pct_per_c": "%/°C",
    "temp_coeff_isc_pct_per_c": "%/°C",
    "length_mm": "mm",
    "width_mm": "mm",
    "thickness_mm": "mm",
    "weight_kg": "kg",
    "ac_power_w": "W",
    "max_dc_voltage_v": "V",
    "mppt_count": "count",
    "mppt_min_v": "V",
    "mppt_max_v": "V",
    "max_efficiency_pct": "%",
    "phases": "count",
    "usable_kwh": "kWh",
    "nominal_voltage_v": "V",
}

EQUIPMENT_TYPES = ("module", "inverter_string", "inverter_micro", "inverter_hybrid", "battery")


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

    def to_json(self) -> dict:
        """Plain dict for JSON sinks; units come from SPEC_FIELDS so consumers need no second lookup."""
        return {
            "pages": self.pages,
            "has_text_layer": self.has_text_layer,
            "manufacturer": self.manufacturer,
            "equipment_type": self.equipment_type,
            "certifications": list(self.certifications),
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
# Page layout from pypdfium2 text runs

# A scanned sheet can still carry a few stray text objects (SOFAR has about 270 characters of labels); a real
# spec sheet has thousands. Below this average the sheet is treated as image-only and left for OCR.
MIN_ALNUM_PER_PAGE = 400
_CELL_GAP_PT = 4.0  # runs closer than this belong to one cell ("21." "33" "%" -> "21.33%")
_ROW_TOL_PT = 3.2  # vertical-centre tolerance for runs on one row (sub/superscripts drift about 3 pt)
_SUPERSCRIPTS = str.maketrans("", "", "¹²³⁴⁵⁶⁷⁸⁹⁰")


@dataclass
class _Cell:
    x0: float
    x1: float
    text: str

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class _Row:
    page: int
    y: float
    cells: list[_Cell]

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)


def _clean(text: str) -> str:
    text = text.translate(_SUPERSCRIPTS).replace("\u2009", " ").replace("\xa0", " ").replace("\ufffe", "")
    text = re.sub(r"\s+", " ", text).strip()
    # Ligature splits such as "Effi ciency" / "Certifi cates" (the fi glyph is its own text run).
    return re.sub(r"(?i)(fi)\s+(cien|cat)", r"\1\2", text)


def _page_rows(page: pdfium.PdfPage, page_no: int) -> list[_Row]:
    """Rebuild rows of cells from positioned text runs, ignoring the text layer's reading order."""
    textpage = page.get_textpage()
    height = page.get_height()
    runs = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top)
        if text.strip():
            runs.append((height - (top + bottom) / 2, left, right, text))
    runs.sort()
    clusters: list[list[tuple[float, float, float, str]]] = []
    for run in runs:
        if clusters and abs(run[0] - clusters[-1][0][0]) <= _ROW_TOL_PT:
            clusters[-1].append(run)
        else:
            clusters.append([run])
    rows = []
    for cluster in clusters:
        cluster.sort(key=lambda r: r[1])
        cells: list[_Cell] = []
        for _, x0, x1, text in cluster:
            if cells and x0 - cells[-1].x1 <= _CELL_GAP_PT:
                cells[-1].text += text
                cells[-1].x1 = max(cells[-1].x1, x1)
            else:
                cells.append(_Cell(x0, x1, text))
        cells = [_Cell(c.x0, c.x1, _clean(c.text)) for c in cells]
        rows.append(_Row(page_no, cluster[0][0], [c for c in cells if c.text]))
    return [r for r in rows if r.cells]


def page_texts(path: str | Path) -> list[str]:
    """The text layer of each page, in the PDF's own reading order (fast: pypdfium2, no layout analysis)."""
    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


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
    if re.search(r"\bhybrid\b|battery (input|voltage|port)", text, re.IGNORECASE):
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
    flat = _clean(text)
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
# Values

_NUM = r"[+\-\u2212\u2013]?\d+(?:[.,]\d+)?"  # ASCII, Unicode minus or en dash as the sign
_VALUE_START = re.compile(r"^[(≥≤<>~±+\-\u2212\u2013]?\s*\d")
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-"})


def parse_number(text: str) -> float | None:
    """Number from '96,4', '1,500', '-0.27', '≥18.9': decimal comma unless it groups exactly three digits."""
    match = re.search(_NUM, text.translate(_DASHES))
    if not match:
        return None
    raw = match.group(0)
    if "," in raw:
        head, tail = raw.split(",")
        raw = head + tail if len(tail) == 3 and head.lstrip("+-") != "0" else f"{head}.{tail}"
    return float(raw)


_UNIT_AFTER = re.compile(rf"^\s*[≥≤<>~≈]?\s*({_NUM})\s*([A-Za-z%°℃/]*)")

# field -> (accepted units after the number, multiplier per unit, plausible range)
_UNITS: dict[str, tuple[dict[str, float], tuple[float, float]]] = {
    "pmax_w": ({"w": 1, "wp": 1, "kw": 1000, "kwp": 1000}, (20, 1000)),
    "vmp_v": ({"v": 1}, (5, 120)),
    "imp_a": ({"a": 1}, (0.5, 30)),
    "voc_v": ({"v": 1}, (5, 130)),
    "isc_a": ({"a": 1}, (0.5, 30)),
    "efficiency_pct": ({"%": 1}, (5, 30)),
    "temp_coeff_pmax_pct_per_c": ({"%/℃": 1, "%/°c": 1, "%/k": 1, "%/c": 1}, (-1, -0.05)),
    "temp_coeff_voc_pct_per_c": ({"%/℃": 1, "%/°c": 1, "%/k": 1, "%/c": 1}, (-1, -0.05)),
    "temp_coeff_isc_pct_per_c": ({"%/℃": 1, "%/°c": 1, "%/k": 1, "%/c": 1}, (0, 0.2)),
    "weight_kg": ({"kg": 1}, (0.3, 5000)),
    "ac_power_w": ({"w": 1, "kw": 1000}, (50, 5_000_000)),
    "max_dc_voltage_v": ({"v": 1, "vdc": 1}, (20, 2000)),
    "mppt_count": ({}, (1, 40)),
    "max_efficiency_pct": ({"%": 1}, (50, 100)),
    "phases": ({}, (1, 3)),
    "usable_kwh": ({"kwh": 1, "wh": 0.001}, (0.2, 10_000)),
    "nominal_voltage_v": ({"v": 1, "vdc": 1}, (2, 2000)),
}


def _label_unit(label: str) -> str | None:
    """A unit written in the row label, e.g. 'Power at MPP PMPP [W]' or 'Module Efficiency STC (%)'."""
    match = re.search(r"[\[(]\s*([A-Za-z%°℃/]+)\s*[\])]", label)
    return match.group(1).lower() if match else None


def _parse_value(name: str, text: str, label: str) -> float | int | None:
    """One value for a field, or None when unit or range disagree (a wrong number is worse than none)."""
    if name == "weight_kg":
        match = re.search(rf"({_NUM})\s*kg\b", text, re.IGNORECASE)
        number = parse_number(match.group(1)) if match else None
        return number if number is not None and 0.3 <= number <= 5000 else None
    match = _UNIT_AFTER.match(text)
    if not match:
        return None
    number = parse_number(match.group(1))
    unit = match.group(2).lower().rstrip("/")
    factors, (low, high) = _UNITS[name]
    if factors:
        if not unit:
            unit = _label_unit(label) or ""
        if unit not in factors:
            return None
        number *= factors[unit]
    elif unit and not re.fullmatch(r"(x|pcs)?", unit):
        return None
    if number is None or not low <= number <= high:
        return None
    if SPEC_FIELDS[name] == "count":
        return int(number) if number == int(number) else None
    return round(number, 6)


_RANGE = re.compile(rf"({_NUM})\s*V?\s*(?:to|-|\u2013|~|…|\.\.\.)\s*({_NUM})\s*V\b", re.IGNORECASE)
_DIMS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(?:mm)?\s*[\u00d7xX*]\s*(\d+(?:[.,]\d+)?)\s*(?:mm)?\s*[\u00d7xX*]\s*(\d+(?:[.,]\d+)?)\s*mm\b"
)


# --------------------------------------------------------------------------------------------------------------
# Row labels -> fields (matched on the lower-cased label of one "label / label" part)

_FIELD_LABELS: dict[str, list[tuple[str, str]]] = {
    "module": [
        ("pmax_w", r"^(maximum power|power at mpp|rated power|nominal power|peak power|pmax)(?! (voltage|current))"),
        ("vmp_v", r"^(maximum power voltage|voltage at mpp|mpp voltage|optimum operating voltage|vmpp?\b)"),
        ("imp_a", r"^(maximum power current|current at mpp|mpp current|optimum operating current|impp?\b)"),
        ("voc_v", r"^(open[- ]?circuit voltage|voc\b)"),
        ("isc_a", r"^(short[- ]?circuit current|isc\b)"),
        ("efficiency_pct", r"^(module efficiency|panel efficiency|efficiency)\b"),
        ("temp_coeff_pmax_pct_per_c", r"^temperature coefficients? of (pmax|pmpp|pm)\b"),
        ("temp_coeff_voc_pct_per_c", r"^temperature coefficients? of voc\b"),
        ("temp_coeff_isc_pct_per_c", r"^temperature coefficients? of isc\b"),
        ("dimensions", r"^(dimensions?|format|size)\b"),
        ("weight_kg", r"^(net )?weight\b"),
    ],
    "inverter": [
        ("ac_power_w", r"^(rated|nominal) (ac )?(output )?(active )?power(?! (frequency|factor))"),
        ("max_dc_voltage_v", r"^max(imum)?\.? (pv |dc )?input voltage$|^max(imum)?\.? dc voltage$"),
        ("mppt_count", r"^(number|no\.?) of (independent )?mpp(t|ts)?( inputs| trackers)?$|^mppt? (number|quantity)$"),
        ("mppt_range", r"^mppt? (operating )?voltage range$"),
        ("max_efficiency_pct", r"^max(imum)?\.? efficiency$"),
        ("phases", r"^(feed-in|output|grid) phases$|^phases$"),
        ("weight_kg", r"^(net )?weight\b"),
    ],
    "battery": [
        ("usable_kwh", r"^usable (energy|capacity)\b"),
        ("nominal_voltage_v", r"^nominal voltage\b"),
        ("weight_kg", r"^(net )?weight\b"),
    ],
}

_MODEL_LABEL = re.compile(r"^(module type|model( name| type)?|type designation|power class|modelo)$", re.IGNORECASE)
_MEASURE = re.compile(rf"^[≥≤<>~]?\s*{_NUM}\s*(w|wp|kw|v|a|va|kva|kwh|mm|kg|%|hz|°c|℃)?\)?$", re.IGNORECASE)
_SUBHEADERS = {"stc", "noct", "nmot"}
_UNIT_ONLY = re.compile(r"^(w|wp|kw|v|a|va|kva|kwh|mm|kg|%)$", re.IGNORECASE)


def _split_parts(text: str) -> list[str]:
    """'a / b' parts outside parentheses: a label such as 'Max. efficiency / European efficiency' pairs with
    a value '97 % / 96,4 %', so each field reads its own part."""
    parts, depth, current = [], 0, ""
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "/" and depth == 0 and text[i - 1 : i] == " " and text[i + 1 : i + 2] == " ":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def _label_key(label: str) -> str:
    label = label.lower().replace("(", " (")
    label = re.sub(r"(?<=[a-z])\d\b", "", label)  # footnote digits glued to words: "Efficiency1", "MPP1"
    return re.sub(r"\s+", " ", label).strip()


def _is_model_cell(text: str) -> bool:
    return (
        len(text) <= 32
        and len(text.split()) <= 3
        and bool(re.search(r"\d", text))
        and len(re.findall(r"[A-Za-z]", text)) >= 2
        and "/" not in text
        and not _MEASURE.match(text)
        and not re.match(r"^\d+\s*[x\u00d7]\s", text)
    )


@dataclass
class _Table:
    page: int
    y: float
    models: list[_Cell]
    labelled: bool
    subheader: list[_Cell] = field(default_factory=list)


def _segments(row: _Row) -> list[tuple[str, list[_Cell]]]:
    """(label, value cells) pairs: label cells followed by value cells, repeated across the row."""
    segments: list[tuple[list[_Cell], list[_Cell]]] = []
    for cell in row.cells:
        if _UNIT_ONLY.match(cell.text) and segments and segments[-1][1]:
            last = segments[-1][1][-1]  # '91' 'kg' drawn as two runs far apart
            segments[-1][1][-1] = _Cell(last.x0, cell.x1, f"{last.text} {cell.text}")
            continue
        is_value = bool(_VALUE_START.match(cell.text))
        if is_value and (not segments or not segments[-1][0]):
            continue  # a number with no label to its left (drawing dimensions, axis ticks)
        if not segments or (not is_value and segments[-1][1]):
            segments.append(([], []))
        (segments[-1][1] if is_value else segments[-1][0]).append(cell)
    return [(" ".join(c.text for c in labels), values) for labels, values in segments if labels and values]


def _find_tables(rows: list[_Row]) -> list[_Table]:
    """Model header rows: 'Module Type JKM550M... JKM555M...' or an unlabelled row of model names.
    A labelled header on a page wins over unlabelled ones (SMA's '3000TL' caption vs 'SB 3000TL-21')."""
    labelled, unlabelled = [], []
    for row in rows:
        first = row.cells[0]
        if len(row.cells) >= 2 and _MODEL_LABEL.match(first.text.strip()):
            labelled.append(_Table(row.page, row.y, row.cells[1:], True))
        elif len(row.cells) >= 2 and all(_is_model_cell(c.text) for c in row.cells):
            unlabelled.append(_Table(row.page, row.y, row.cells, False))
    tables = labelled or unlabelled
    for row in rows:
        texts = [c.text.lower() for c in row.cells]
        if len(texts) >= 2 and set(texts) <= _SUBHEADERS and "stc" in texts:
            owner = _owner(tables, row.y)
            if owner is not None:
                owner.subheader = row.cells
    return tables


def _owner(tables: list[_Table], y: float) -> _Table | None:
    """The table a row belongs to: the nearest header above it, else the first one below (footer headers)."""
    above = [t for t in tables if t.y <= y]
    if above:
        return max(above, key=lambda t: t.y)
    return min(tables, key=lambda t: t.y) if tables else None


def _nearest(cells: list[_Cell], x: float) -> _Cell:
    return min(cells, key=lambda c: abs(c.xc - x))


def _per_model(table: _Table, values: list[_Cell]) -> list[tuple[int, _Cell]] | None:
    """Which model each value cell belongs to; None when the layout is ambiguous."""
    count = len(table.models)
    if len(values) == 1:
        return [(i, values[0]) for i in range(count)]
    if len(values) > count and table.subheader:
        values = [v for v in values if _nearest(table.subheader, v.xc).text.lower() == "stc"]
    if len(values) == count:
        return list(enumerate(sorted(values, key=lambda c: c.x0)))
    return None


def _row_values(name: str, label: str, part: int, parts: int, cell: _Cell, continuation: str) -> dict[str, float]:
    """Field values read from one cell (a range or a dimension triple gives several fields)."""
    text = cell.text
    if parts > 1:
        value_parts = _split_parts(text)
        if len(value_parts) != parts:
            return {}
        text = value_parts[part]
    if name == "dimensions":
        match = _DIMS.search(text) or _DIMS.search(continuation)
        if not match:
            return {}
        length, width, thick = (parse_number(g) for g in match.groups())
        if not (500 <= length <= 3000 and 300 <= width <= 1600 and 3 <= thick <= 80 and width <= length):
            return {}
        return {"length_mm": length, "width_mm": width, "thickness_mm": thick}
    if name == "mppt_range":
        match = _RANGE.search(text)
        if not match:
            return {}
        low, high = parse_number(match.group(1)), parse_number(match.group(2))
        return {"mppt_min_v": low, "mppt_max_v": high} if 20 <= low < high <= 2000 else {}
    if name == "weight_kg" and not re.search(r"(?<![a-z])kg\b", text, re.IGNORECASE):
        text = continuation
    value = _parse_value(name, text, label)
    return {} if value is None else {name: value}


def _continuation(rows: list[_Row], index: int, value_x0: float) -> str:
    """Text of the next row when it only continues the value column ('(2015mm x 1000mm x 35mm)')."""
    if index + 1 < len(rows):
        nxt = rows[index + 1]
        if nxt.page == rows[index].page and nxt.y - rows[index].y < 14 and nxt.cells[0].x0 >= value_x0 - 5:
            return nxt.text
    return ""


def _extract_fields(rows: list[_Row], kind: str, tables: list[_Table]) -> dict[tuple[int, int], dict[str, FieldValue]]:
    """Values per (table index, model index); the first value found for a field wins (STC before NMOT)."""
    rules = _FIELD_LABELS[kind]
    out: dict[tuple[int, int], dict[str, FieldValue]] = {}
    for index, row in enumerate(rows):
        page_tables = [t for t in tables if t.page == row.page]
        table = _owner(page_tables, row.y)
        if table is None:
            continue
        tid = tables.index(table)
        for label, values in _segments(row):
            label_parts = _split_parts(label)
            for part, label_part in enumerate(label_parts):
                key = _label_key(label_part)
                for name, pattern in rules:
                    if not re.search(pattern, key):
                        continue
                    continuation = _continuation(rows, index, values[0].x0)
                    assignment = _per_model(table, values)
                    if assignment is None:
                        # Drawing dimensions can share the row ('Weight 51.8lbs (23.5kg)  15.7" (400 mm)'):
                        # retry with only the cells that read as this field.
                        readable = [
                            v for v in values if _row_values(name, label_part, part, len(label_parts), v, continuation)
                        ]
                        assignment = _per_model(table, readable) if readable else None
                    if assignment is None:
                        break
                    for model_index, cell in assignment:
                        parsed = _row_values(name, label_part, part, len(label_parts), cell, continuation)
                        target = out.setdefault((tid, model_index), {})
                        for fname, value in parsed.items():
                            target.setdefault(fname, FieldValue(value, row.page))
                    break
    return out


def _consistent(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """Drop module electrical values that contradict each other (a column shift shows up here first)."""
    get = {k: v.value for k, v in fields.items()}
    bad: set[str] = set()
    if {"vmp_v", "voc_v"} <= get.keys() and not get["vmp_v"] < get["voc_v"]:
        bad |= {"vmp_v", "voc_v"}
    if {"imp_a", "isc_a"} <= get.keys() and not get["imp_a"] < get["isc_a"]:
        bad |= {"imp_a", "isc_a"}
    if {"pmax_w", "vmp_v", "imp_a"} <= get.keys():
        product = get["vmp_v"] * get["imp_a"]
        if abs(product - get["pmax_w"]) / get["pmax_w"] > 0.03:
            bad |= {"pmax_w", "vmp_v", "imp_a"}
    return {k: v for k, v in fields.items() if k not in bad}


def _model_name(cell: _Cell) -> str:
    return re.sub(r"\s+", " ", cell.text).strip()


_POWER_CLASS = re.compile(r"^(\d{2,4})\s*(?:wp?)?$", re.IGNORECASE)
_SERIES = re.compile(r"^[A-Z][A-Za-z0-9.+\- ]{1,38}[A-Za-z0-9+]$")
_TITLE_GAP_PT = 40.0  # title line to the power-range line printed under it (large type)


def _plausible_series(text: str) -> bool:
    """A product line name such as 'Q.PEAK DUO L-G5.2': short, no sentence, and not a bare word."""
    return (
        bool(_SERIES.match(text))
        and len(text.split()) <= 5
        and bool(re.search(r"\d|[.\-]", text))
        and not re.search(r"\b(cells?|solar|modules?|datasheet|specifications?)\b", text, re.IGNORECASE)
    )


def _series_name(rows: list[_Row], classes: list[int]) -> str | None:
    """The product series of a sheet whose model header lists only power classes, or None when unsure.

    The series counts only where it is printed right before the sheet's own power range ('Q.PEAK DUO L-G5.2' over
    '380-405' in the title, 'Q.PEAK DUO L-G5.2_380-405_2019-03_Rev02' in the footer), so an award badge such as
    'Q.PRO-G2 235' or a sibling series named in a drawing caption is not taken. Conflicting candidates give None.
    """
    if len(classes) < 2 or min(classes) == max(classes):
        return None
    span = rf"{min(classes)}\s*[-\u2013]\s*{max(classes)}"
    inline = re.compile(rf"^(.+?)[\s_]+{span}(?:\s*wp?)?(?:[\s_].*)?$", re.IGNORECASE)
    alone = re.compile(rf"^{span}(?:\s*wp?)?$", re.IGNORECASE)
    candidates: set[str] = set()
    for index, row in enumerate(rows):
        for cell in row.cells:
            match = inline.match(cell.text)
            if match:
                candidates.add(match.group(1).strip())
            elif alone.match(cell.text) and index > 0:
                above = rows[index - 1]
                if above.page == row.page and row.y - above.y <= _TITLE_GAP_PT:
                    title = [c for c in above.cells if abs(c.x0 - cell.x0) <= 10]
                    if len(title) == 1:
                        candidates.add(title[0].text.strip())
    series = {re.sub(r"\s+", " ", c) for c in candidates if _plausible_series(c)}
    return series.pop() if len(series) == 1 else None


def _records(rows: list[_Row], kind: str, manufacturer: str | None, equipment: str | None) -> list[SpecRecord]:
    tables = _find_tables(rows)
    values = _extract_fields(rows, kind, tables)
    records: dict[str, SpecRecord] = {}
    classes = [int(m.group(1)) for t in tables for c in t.models if (m := _POWER_CLASS.match(_model_name(c)))]
    series = _series_name(rows, classes) if kind == "module" else None
    for tid, table in enumerate(tables):
        for model_index, cell in enumerate(table.models):
            fields = values.get((tid, model_index), {})
            if kind == "module":
                fields = _consistent(fields)
            if not fields:
                continue
            name = _model_name(cell)
            power_class = _POWER_CLASS.match(name)
            if series and power_class:
                name = f"{series} {power_class.group(1)}"  # '380' -> 'Q.PEAK DUO L-G5.2 380'
            record = records.setdefault(name, SpecRecord(name, manufacturer, equipment))
            for fname, fv in fields.items():
                record.fields.setdefault(fname, fv)
    return list(records.values())


def _family(equipment: str | None) -> str | None:
    if equipment is None:
        return None
    return "inverter" if equipment.startswith("inverter") else equipment


def extract_pdf(path: str | Path) -> Extraction:
    """Extract document facts and per-model specs from one datasheet; pure and deterministic."""
    doc = pdfium.PdfDocument(str(path))
    try:
        pages = len(doc)
        texts = [doc[i].get_textpage().get_text_range() for i in range(pages)]
        alnum = sum(len(re.findall(r"[A-Za-z0-9]", t)) for t in texts)
        has_text = pages > 0 and alnum / pages >= MIN_ALNUM_PER_PAGE
        if not has_text:
            return Extraction(pages, False, None, None, [], [])
        rows = [row for i in range(pages) for row in _page_rows(doc[i], i + 1)]
    finally:
        doc.close()
    full = "\n".join(texts)
    manufacturer = _manufacturer(full)
    equipment = _equipment_type(full)
    family = _family(equipment)
    specs = _records(rows, family, manufacturer, equipment) if family else []
    return Extraction(pages, True, manufacturer, equipment, _certifications(full), specs)
