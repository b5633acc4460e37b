"""Link distributor products to equipment certifications (INMETRO registrations, CEC listings).

`match_certifications(products, certifications)` gives each product its best certification and says how it was
found (`match_kind`) and how sure the link is (`confidence`, 0-1):

* `exact` (1.0; 0.95 when the product has no power to confirm it; 0.9 for a product without manufacturer whose
  model names a single manufacturer's certification): same normalized manufacturer and model.
* `family` (0.75-0.95, by how much of the longer model the shorter covers): one normalized model extends the other
  (`CS6K-290MS` / `CS6K-290MS-AG`) — at least `FAMILY_MIN_PREFIX` characters in common, and an extension that does
  not go on with a digit after a digit (`ABC12` is not of the `ABC123` family) — same manufacturer, same power class.
  Among several, the one whose separators agree too (`GW5000-DNS-30` is of `GW5000-DNS-30/B30` rather than of
  `GW5000D-NS`), then the largest share, wins.
* `fuzzy` (0.8 x the score): `rapidfuzz.fuzz.ratio` on the normalized models of the same manufacturer and power class
  at or above `FUZZY_THRESHOLD` (typos: `CS6K-29OMS`, `LR4-72HPH-45OM`).
* `none`: nothing above.

Normalized model: accents stripped, upper-cased, trailing bracketed suffixes dropped (`[208V]`), leading category
words dropped (`Módulo Fotovoltaico`, `Inversor Híbrido`), every character but letters and digits dropped, and a
leading manufacturer name dropped (`Inversor Growatt MIN 5000TL-X` -> `MIN5000TLX`).
Normalized manufacturer: `canonical_manufacturer` then the spelling key of records.py (corporate words dropped).

Power class (`same_power_class`): modules within `MODULE_POWER_TOLERANCE_W` and `POWER_TOLERANCE_PCT` of each other
(so 625 W and 630 W differ, and a CEC STC of 394.887 W is a 395 W module); inverters and the rest within
`POWER_TOLERANCE_PCT` of the rated (AC) power. Family and fuzzy candidates are blocked by equipment type,
normalized manufacturer and power class, so a link never crosses power classes, and the work per product is
a few candidates. A product with a power and a certification with another power class are never linked, even
with the same model; products without manufacturer or power are matched exactly or not at all.
Ties go to the closest power, then INMETRO before CEC, then the model in alphabetical order.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from rapidfuzz import fuzz, process

from ysh_assets.catalog.certifications import canonical_manufacturer
from ysh_assets.catalog.records import _key as manufacturer_spelling_key

MODULE_POWER_TOLERANCE_W = 2.4  # under half the usual 5 W step between module power classes
POWER_TOLERANCE_PCT = 0.02
FUZZY_THRESHOLD = 85.0  # fuzz.ratio (0-100) on normalized models; bench_matching: fuzzy links 96 % right at 80-90
FAMILY_MIN_PREFIX = 5
CERTIFIER_PREFERENCE = {"INMETRO": 0, "CEC": 1}

CATEGORY_EQUIPMENT = {
    "module": "module",
    "inverter": "inverter",
    "microinverter": "inverter",
    "hybrid_inverter": "inverter",
}

MATCH_COLUMNS: tuple[str, ...] = (
    "certifier",
    "registration_id",
    "certified_manufacturer",
    "certified_model",
    "certified_power_w",
    "certified_equipment_type",
    "match_kind",
    "confidence",
)
_MATCH_SCHEMA: dict[str, Any] = {
    "certifier": pl.String,
    "registration_id": pl.String,
    "certified_manufacturer": pl.String,
    "certified_model": pl.String,
    "certified_power_w": pl.Float64,
    "certified_equipment_type": pl.String,
    "match_kind": pl.String,
    "confidence": pl.Float64,
}

BRACKETS = re.compile(r"(?:\s*\[[^\]]*\])+\s*$")
# What distributors put before a model: `Módulo Fotovoltaico ...`, `Inversor Híbrido ...`, `Microinversor ...`
_LEADING_WORDS = re.compile(
    r"^(?:MODULO|PAINEL|PLACA|MODULE|PANEL|INVERSOR|MICRO[\s-]?INVERSOR|INVERTER|MICRO[\s-]?INVERTER)\b"
    r"(?:[\s:-]+(?:SOLAR|FOTOVOLTAICO|FOTOVOLTAICA|FV|PV|HIBRIDO|HYBRID|ON-GRID|OFF-GRID|GRID-TIE|STRING)\b)*[\s:-]*"
)
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


def _ascii_upper(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def _model_text(model: str, manufacturer: str | None, joiner: str) -> str:
    text = _LEADING_WORDS.sub("", _ascii_upper(BRACKETS.sub("", str(model))).strip())
    text = _NOT_ALNUM.sub(joiner, text).strip(joiner)
    if manufacturer:
        prefix = _NOT_ALNUM.sub(joiner, _ascii_upper(manufacturer)).strip(joiner)
        rest = text[len(prefix) :].lstrip(joiner)
        if prefix and text.startswith(prefix) and len(rest.replace(joiner, "")) >= 3:
            text = rest
    return text


def normalize_model(model: str | None, manufacturer: str | None = None) -> str:
    """`MICRO-0.25-I-OUTD-US-208 [208V]` -> `MICRO025IOUTDUS208`; `Growatt MIN 5000TL-X` (GROWATT) -> `MIN5000TLX`."""
    return _model_text(model, manufacturer, "") if model else ""


def separated_model(model: str | None, manufacturer: str | None = None) -> str:
    """`normalize_model` keeping one `-` where separators were (`GW5000-DNS-30` -> `GW5000-DNS-30`, `GW5000D NS` ->
    `GW5000D-NS`): within a family, a candidate whose separated form also extends the other's ranks first."""
    return _model_text(model, manufacturer, "-") if model else ""


def manufacturer_key(name: str | None) -> str:
    """The blocking key of a manufacturer: `LONGi Green Energy Technology Co., Ltd.` and `LONGI` -> `longi`."""
    canonical = canonical_manufacturer(name)
    return manufacturer_spelling_key(canonical) if canonical else ""


def power_tolerance_w(equipment_type: str | None, power_w: float) -> float:
    relative = POWER_TOLERANCE_PCT * abs(power_w)
    return min(MODULE_POWER_TOLERANCE_W, relative) if equipment_type == "module" else relative


def same_power_class(equipment_type: str | None, a: float, b: float) -> bool:
    return abs(a - b) <= power_tolerance_w(equipment_type, max(abs(a), abs(b))) + 1e-9


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number > 0 else None


@dataclass
class _Index:
    rows: list[dict[str, Any]]
    norm: list[str]
    separated: list[str]
    manu: list[str]
    power: list[float | None]
    types: list[str | None]
    exact: dict[tuple[str | None, str, str], list[int]]
    by_model: dict[tuple[str | None, str], list[int]]
    blocks: dict[tuple[str | None, str], tuple[list[float], list[int]]]
    equipment_types: tuple[str | None, ...]


def _build_index(certifications: pl.DataFrame) -> _Index:
    columns = set(certifications.columns)
    for required in ("manufacturer", "model"):
        if required not in columns:
            raise ValueError(f"certifications need a {required!r} column (have {certifications.columns})")
    wanted = [
        c
        for c in ("equipment_type", "certifier", "manufacturer", "model", "registration_id", "rated_power_w")
        if c in columns
    ]
    rows = certifications.select(wanted).to_dicts()
    norm, separated, manu, power, types = [], [], [], [], []
    exact: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    by_model: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    pending: dict[tuple[str | None, str], list[tuple[float, int]]] = defaultdict(list)
    key_cache: dict[str | None, str] = {}
    for i, row in enumerate(rows):
        name = row.get("manufacturer")
        if name not in key_cache:
            key_cache[name] = manufacturer_key(name)
        m = key_cache[name]
        canonical = canonical_manufacturer(name)
        n = normalize_model(row.get("model"), canonical)
        p = _number(row.get("rated_power_w"))
        t = row.get("equipment_type")
        norm.append(n)
        separated.append(separated_model(row.get("model"), canonical))
        manu.append(m)
        power.append(p)
        types.append(t)
        if not n:
            continue
        exact[(t, m, n)].append(i)
        by_model[(t, n)].append(i)
        if m and p is not None:
            pending[(t, m)].append((p, i))
    blocks = {}
    for key, items in pending.items():
        items.sort()
        blocks[key] = ([p for p, _ in items], [i for _, i in items])
    equipment_types = tuple(sorted(set(types), key=str))
    return _Index(rows, norm, separated, manu, power, types, exact, by_model, blocks, equipment_types)


def _rank(index: _Index, i: int, power: float | None) -> tuple[Any, ...]:
    cert_power = index.power[i]
    distance = abs(cert_power - power) if power is not None and cert_power is not None else float("inf")
    certifier = index.rows[i].get("certifier") or ""
    return (distance, CERTIFIER_PREFERENCE.get(certifier, 9), certifier, str(index.rows[i].get("model")), i)


def _compatible(index: _Index, i: int, equipment_type: str | None, power: float | None) -> bool:
    cert_power = index.power[i]
    return power is None or cert_power is None or same_power_class(equipment_type or index.types[i], power, cert_power)


def _family_score(a: str, b: str, a_separated: str, b_separated: str) -> tuple[bool, float] | None:
    """None when `a` and `b` (normalized) are not of one family, else (the separated forms agree, share)."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < FAMILY_MIN_PREFIX or short == long or not long.startswith(short):
        return None
    if short[-1].isdigit() and long[len(short)].isdigit():
        return None
    s_short, s_long = (a_separated, b_separated) if len(a) <= len(b) else (b_separated, a_separated)
    return s_long.startswith(s_short), len(short) / len(long)


def _match_one(
    index: _Index, types: Iterable[str | None], manu: str, norm: str, separated: str, power: float | None
) -> tuple[int, str, float] | None:
    # exact
    if manu:
        hits = [i for t in types for i in index.exact.get((t, manu, norm), ())]
        hits = [i for i in hits if _compatible(index, i, None, power)]
        if hits:
            best = min(hits, key=lambda i: _rank(index, i, power))
            confirmed = power is not None and index.power[best] is not None
            return best, "exact", 1.0 if confirmed else 0.95
    else:
        hits = [i for t in types for i in index.by_model.get((t, norm), ())]
        hits = [i for i in hits if _compatible(index, i, None, power)]
        if hits and len({index.manu[i] for i in hits}) == 1:
            return min(hits, key=lambda i: _rank(index, i, power)), "exact", 0.9
        return None
    if power is None:
        return None
    # candidates of the same manufacturer and power class
    candidates: list[int] = []
    for t in types:
        block = index.blocks.get((t, manu))
        if not block:
            continue
        powers, ids = block
        reach = power_tolerance_w(t, power * 1.05) + 1e-6
        lo, hi = bisect.bisect_left(powers, power - reach), bisect.bisect_right(powers, power + reach)
        candidates.extend(ids[k] for k in range(lo, hi) if same_power_class(t, power, powers[k]))
    if not candidates:
        return None
    family = [
        (score, i)
        for i in candidates
        if (score := _family_score(norm, index.norm[i], separated, index.separated[i])) is not None
    ]
    if family:
        (_, share), best = min(family, key=lambda item: (not item[0][0], -item[0][1], *_rank(index, item[1], power)))
        return best, "family", round(0.75 + 0.2 * share, 4)
    choices = [index.norm[i] for i in candidates]
    found = process.extract(norm, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD, limit=None)
    if not found:
        return None
    top = max(score for _, score, _ in found)
    best = min((candidates[k] for _, score, k in found if score == top), key=lambda i: _rank(index, i, power))
    return best, "fuzzy", round(0.8 * top / 100.0, 4)


def match_certifications(products: pl.DataFrame, certifications: pl.DataFrame) -> pl.DataFrame:
    """`products` (manufacturer, model, category, power_w, any other columns, kept) with `MATCH_COLUMNS` added:
    the best certification of each product, `match_kind` (exact | family | fuzzy | none) and `confidence`.

    `certifications` has the columns of aneel.certifications (at least manufacturer and model; equipment_type,
    certifier, registration_id and rated_power_w are used when present). A product's category picks the equipment
    type (`CATEGORY_EQUIPMENT`: microinverters and hybrid inverters are inverters; a category not listed is looked
    up as is); a product without category is matched against every type."""
    for required in ("manufacturer", "model"):
        if required not in products.columns:
            raise ValueError(f"products need a {required!r} column (have {products.columns})")
    clash = [c for c in MATCH_COLUMNS if c in products.columns]
    if clash:
        raise ValueError(f"products already have the column(s) {clash} that matching adds")
    index = _build_index(certifications)
    typed = "equipment_type" in certifications.columns  # else a product's category cannot narrow the search
    manufacturers = products["manufacturer"].to_list()
    models = products["model"].to_list()
    categories = products["category"].to_list() if "category" in products.columns else [None] * products.height
    powers = products["power_w"].to_list() if "power_w" in products.columns else [None] * products.height
    key_cache: dict[Any, tuple[str, str | None]] = {}
    out: dict[str, list[Any]] = {c: [] for c in MATCH_COLUMNS}
    for name, model, category, power_value in zip(manufacturers, models, categories, powers, strict=True):
        if name not in key_cache:
            key_cache[name] = (manufacturer_key(name), canonical_manufacturer(name))
        manu, canonical = key_cache[name]
        norm = normalize_model(model, canonical)
        separated = separated_model(model, canonical)
        types: tuple[str | None, ...] = (
            (CATEGORY_EQUIPMENT.get(category, category),) if category and typed else index.equipment_types
        )
        found = _match_one(index, types, manu, norm, separated, _number(power_value)) if norm else None
        if found is None:
            for column in MATCH_COLUMNS:
                out[column].append(None)
            out["match_kind"][-1] = "none"
            out["confidence"][-1] = 0.0
            continue
        i, kind, confidence = found
        row = index.rows[i]
        out["certifier"].append(row.get("certifier"))
        out["registration_id"].append(row.get("registration_id"))
        out["certified_manufacturer"].append(row.get("manufacturer"))
        out["certified_model"].append(row.get("model"))
        out["certified_power_w"].append(index.power[i])
        out["certified_equipment_type"].append(index.types[i])
        out["match_kind"].append(kind)
        out["confidence"].append(confidence)
    return products.hstack(pl.DataFrame(out, schema=_MATCH_SCHEMA))
