"""Numbers, units and plausible ranges of datasheet values, independent of where a value sits on the page."""

from __future__ import annotations

import re

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

NUM = r"[+\-\u2212\u2013]?\s?\d+(?:[.,]\d+)*"
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})
VALUE_START = re.compile(r"^[(≥≤<>~±+\-\u2212\u2013@]?\s?\d")


def parse_number(text: str) -> float | None:
    """Number from '96,4', '1,500', '13,120', '-0.27', '- 0.29', '≥18.9': a comma is a decimal point unless it
    groups exactly three digits after a non-zero head."""
    match = re.search(NUM, text.translate(_DASHES))
    if not match:
        return None
    raw = match.group(0).replace(" ", "")
    sign = "-" if raw.startswith("-") else ""
    body = raw.lstrip("+-")
    if "," in body and "." in body:  # '1,234.5' or '1.234,5'
        body = body.replace(",", "") if body.rfind(".") > body.rfind(",") else body.replace(".", "").replace(",", ".")
    elif "," in body:
        head, *tails = body.split(",")
        if all(len(t) == 3 for t in tails) and head != "0":
            body = head + "".join(tails)
        elif len(tails) == 1:
            body = f"{head}.{tails[0]}"
        else:
            return None
    elif body.count(".") > 1:
        return None
    return float(sign + body)


# field -> (accepted units after the number, multiplier per unit, plausible range)
_TEMP_UNITS = {"%/°c": 1, "%/c": 1, "%/k": 1, "%/℃": 1, "%": 1}
UNITS: dict[str, tuple[dict[str, float], tuple[float, float]]] = {
    "pmax_w": ({"w": 1, "wp": 1, "kw": 1000, "kwp": 1000}, (20, 1000)),
    "vmp_v": ({"v": 1}, (5, 120)),
    "imp_a": ({"a": 1}, (0.5, 30)),
    "voc_v": ({"v": 1}, (5, 130)),
    "isc_a": ({"a": 1}, (0.5, 30)),
    "efficiency_pct": ({"%": 1}, (5, 30)),
    "temp_coeff_pmax_pct_per_c": (_TEMP_UNITS, (-1, -0.05)),
    "temp_coeff_voc_pct_per_c": (_TEMP_UNITS, (-1, -0.05)),
    "temp_coeff_isc_pct_per_c": (_TEMP_UNITS, (0, 0.2)),
    "weight_kg": ({"kg": 1, "kgs": 1}, (0.3, 5000)),
    "ac_power_w": ({"w": 1, "kw": 1000}, (50, 5_000_000)),
    "max_dc_voltage_v": ({"v": 1, "vdc": 1, "vcc": 1, "v.d.c": 1, "v dc": 1}, (20, 2000)),
    "mppt_count": ({}, (1, 40)),
    "max_efficiency_pct": ({"%": 1}, (50, 100)),
    "phases": ({}, (1, 3)),
    "usable_kwh": ({"kwh": 1, "wh": 0.001}, (0.2, 10_000)),
    "nominal_voltage_v": ({"v": 1, "vdc": 1, "vcc": 1}, (2, 2000)),
}

_UNIT_AFTER = re.compile(rf"^\s*[(]?\s*[≥≤<>~≈@]?\s*({NUM})\s*([A-Za-z%°℃/.]*(?:\s?dc)?)", re.IGNORECASE)
UNIT_ONLY = re.compile(r"^[\[(]?\s*(w|wp|kw|v|a|va|kva|kwh|mm|kg|%|%/°c|%/k|%/℃|vdc)\s*[\])]?$", re.IGNORECASE)


_KNOWN_UNITS = {"w", "wp", "kw", "kwp", "v", "vdc", "a", "%", "kg", "mm", "kwh", "wh", "%/°c", "%/k", "%/℃", "%/c"}


def unit_in(text: str) -> str | None:
    """A unit written in brackets, as in a label 'Power at MPP [W]', 'Module Efficiency (%)', 'PMAX(Wp)',
    'Maximum Power (Pmax/W)' or 'Temperature coefficient [%/K]' (the last bracket that names a unit)."""
    for inside in reversed(re.findall(r"[\[(]\s*([^\[\]()]+?)\s*[\])]", text)):
        unit = inside.replace(" ", "").lower()
        if unit in _KNOWN_UNITS:
            return unit
        last = unit.rsplit("/", 1)[-1]
        if "/" in unit and last in _KNOWN_UNITS and not unit.startswith("%"):
            return last
    return None


def parse_value(name: str, text: str, fallback_unit: str | None = None) -> float | int | None:
    """One value for a field from a value cell, or None when unit or range disagree (a wrong number is worse
    than none). `fallback_unit` is the unit printed in the row's label or unit column, used when the cell has none.
    """
    if name == "weight_kg":
        match = re.search(rf"({NUM})\s*kgs?\b", text, re.IGNORECASE)
        if match is None and fallback_unit == "kg" and re.fullmatch(rf"\s*{NUM}\s*", text):
            match = re.match(rf"\s*({NUM})", text)
        number = parse_number(match.group(1)) if match else None
        return number if number is not None and 0.3 <= number <= 5000 else None
    match = _UNIT_AFTER.match(text)
    if not match:
        return None
    number = parse_number(match.group(1))
    unit = match.group(2).lower().replace(" ", "").rstrip("/.")
    if unit.endswith("dc") and unit != "vdc":
        unit = unit[:-2]
    factors, (low, high) = UNITS[name]
    if factors:
        if not unit:
            unit = fallback_unit or ""
        if unit not in factors:
            return None
        number = None if number is None else number * factors[unit]
    elif unit and not re.fullmatch(r"(x|pcs|mppts?|trackers?)?", unit):
        return None
    if number is None or not low <= number <= high:
        return None
    if SPEC_FIELDS[name] == "count":
        return int(number) if number == int(number) else None
    return round(number, 6)


RANGE = re.compile(rf"({NUM})\s*V?(?:dc)?\s*(?:to|-|\u2013|~|…|\.\.\.|a|bis)\s*({NUM})\s*V", re.IGNORECASE)
DIMS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(?:mm)?\s*[\u00d7xX*]\s*(\d+(?:[.,]\d+)?)\s*(?:mm)?\s*[\u00d7xX*]\s*(\d+(?:[.,]\d+)?)\s*mm\b"
)


def parse_range(text: str) -> tuple[float, float] | None:
    """'80 - 520 V', '140-500 VDC**', '150 V a 550 V' -> (low, high) when low < high."""
    match = RANGE.search(text.translate(_DASHES))
    if not match:
        return None
    low, high = parse_number(match.group(1)), parse_number(match.group(2))
    return (low, high) if low is not None and high is not None and 0 < low < high else None


def parse_module_dimensions(text: str) -> tuple[float, float, float] | None:
    """Length x width x thickness in mm, the millimetre triple wherever it is ('74.0 in x ... (1879 mm x ...)')."""
    text = re.sub(r"(?<=\d) (?=\d{3}\b)", "", text)  # '2278x1 134x35mm'
    for match in DIMS.finditer(text):
        length, width, thick = (parse_number(g) for g in match.groups())
        if 500 <= length <= 3000 and 300 <= width <= 1600 and 3 <= thick <= 80 and width <= length:
            return length, width, thick
    return None


def split_parts(text: str) -> list[str]:
    """'a / b' parts outside parentheses: a label 'Max. efficiency / European efficiency' pairs with a value
    '97 % / 96,4 %', so each field reads its own part."""
    parts, depth, current = [], 0, ""
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch in "/|" and depth == 0 and text[i - 1 : i] == " " and text[i + 1 : i + 2] == " ":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts
