"""The product-field rules every distributor adapter shares, written once.

Distributors spell the same facts differently (`MONOFÁSICO` / `Monof.` / `mono`, `48/220V`, `EF. 22,6%`,
`(SUN2000-75K-MGL0-BR)`), so the rules here are general grammars over folded text, never lists of rows:
text cleaning and accent folding, the category a title names, the model code in it, phases, AC voltage,
efficiency, availability, stable ids, and reading a catalog file's text. Adapters (distributors/*) and the kit
parsers (kits.py) use these; these use only records.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ysh_assets.catalog.records import (
    CatalogBatch,
    CatalogFormatError,
    Product,
    Rejected,
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_brl,
    parse_decimal,
    parse_power_w,
    raw_json,
)

MAX_FILE_BYTES = 50 << 20  # the largest real catalog file is a few hundred kB: anything this big is not one

# ------------------------------------------------------------------------------------------------ files


def _catalog(label: str) -> str:
    return f"{label} catalog" if label else "catalog"


def read_text(path: Path, label: str = "", layouts: tuple[str, ...] = ()) -> str:
    """A catalog file's text. Refused over MAX_FILE_BYTES before reading (a wrong file must not fill memory);
    decoded as utf-8 (with or without BOM), else cp1252 (older exports); NUL bytes mean binary, not a catalog."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CatalogFormatError(
            f"{path.name}: {size} bytes, more than a {_catalog(label)} file may hold ({MAX_FILE_BYTES} bytes)"
        )
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise CatalogFormatError(f"{path.name}: not a {_catalog(label)}: expected one of {layouts}; found binary data")


def csv_rows(path: Path, text: str, label: str, layouts: tuple[str, ...]) -> list[list[str]]:
    """The CSV rows of `text`; a CSV the csv module cannot read is not a catalog (CatalogFormatError)."""
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise CatalogFormatError(f"{path.name}: not a {_catalog(label)}: expected one of {layouts}; "
                                 f"found unreadable CSV ({error})") from error  # fmt: skip


def parse_json(path: Path, text: str, label: str, layouts: tuple[str, ...]) -> Any:
    """The JSON in `text`; invalid JSON is not a catalog (CatalogFormatError naming the file)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise CatalogFormatError(f"{path.name}: not a {_catalog(label)}: expected one of {layouts}; "
                                 f"found invalid JSON ({error})") from error  # fmt: skip


def json_found(data: Any) -> str:
    """What a JSON document holds, for the error that says a file is not a known layout."""
    if isinstance(data, dict):
        return f"a JSON object with keys {sorted(data)[:20]}"
    if isinstance(data, list):
        keys = sorted({key for item in data if isinstance(item, dict) for key in item})
        kinds = sorted({type(item).__name__ for item in data if not isinstance(item, dict)})
        return f"a JSON list with keys {keys[:20]}" + (f" and {kinds} items" if kinds else "")
    return f"a JSON {type(data).__name__}"


# ------------------------------------------------------------------------------------------------ text


def clean(value: Any) -> str:
    """Text with its whitespace (no-break spaces too) collapsed and zero-width characters dropped; "" for None:
    scrapes carry NBSP and U+200B that must not make two spellings of one name."""
    if value is None:
        return ""
    text = str(value).replace("\u200b", "").replace("\ufeff", "").replace("\xa0", " ")
    return " ".join(text.split())


def optional_text(value: Any) -> str | None:
    """clean() of a scalar JSON value, None for absent, blank or structured (object / list) values."""
    if isinstance(value, dict | list):
        return None
    return clean(value) or None


def fold(text: str) -> str:
    """Lower-case ASCII with accents removed, for keyword rules (`Híbrido` and `HIBRIDO` read alike)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def http_url(value: Any) -> str | None:
    """An http(s) URL, or None (exporters write project-local paths such as `/catalog/images/...`)."""
    text = clean(value)
    return text if re.match(r"^https?://\S+$", text, re.IGNORECASE) else None


# ------------------------------------------------------------------------------------------------ ids


def short_hash(text: str, length: int = 16) -> str:
    """The first `length` hex digits of the SHA-1 of `text`: an id, not a secret, stable across runs."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:length]


def derived_id(distributor: str, *parts: str) -> str:
    """A stable id for a record that has none: the hash of the distributor and the parts, cleaned and folded so
    that spacing or accents alone never change it."""
    return short_hash("|".join([distributor, *(fold(clean(part)) for part in parts)]))


def content_id(content: Any, length: int = 16) -> str:
    """A stable id for structured content (lists, dicts): the hash of its canonical JSON (sorted keys)."""
    return short_hash(json.dumps(content, ensure_ascii=False, sort_keys=True), length)


# ------------------------------------------------------------------------------------------------ categories

# Category words (folded text). The earliest word in the text wins (a title names its product first: `Microinversor
# Deye ... 2 painéis`, `Inversor ... para bateria`); at one position the first pattern listed wins.
_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    (r"micro\s*-?\s*invers[oa]r(?:es)?|micro\s*-?\s*inverters?", "microinverter"),
    (r"controlador(?:es)?(?:\s+de\s+carga\b|(?!\s+de\s))|charge\s+controllers?|mppt\s+controllers?",
     "charge_controller"),
    (r"invers[oa]r(?:es)?|inverters?|inv\s*-\s*car\w*|inv\.", "inverter"),
    (r"hibrid[oa]s?|hybrid", "hybrid_inverter"),
    (r"paine(?:l|is)|modulos?|modules?|panels?|placas?\s+solar(?:es)?", "module"),
    (r"baterias?|batter(?:y|ies)", "battery"),
    (r"estruturas?|structures?|suportes?|trilhos?|mounting", "structure"),
    (r"medidor(?:es)?|smart\s*(?:meters?|loggers?|energy|ps)|meters?|data\s*loggers?|loggers?|dongles?|cabos?"
     r"|cables?|cone[cx]tor(?:es)?|connectors?|string\s*box|disjuntor(?:es)?|transformador(?:es)?|tampa"
     r"|ferrament[ao]s?|wifi|monitoramento|dispositivo|otimizador(?:es)?|optimizers?|rele|relay|tc|base|clip"
     r"|controlador(?:es)?", "other"),
    (r"kits?", "kit"),
    (r"on[\s-]?grid|off[\s-]?grid|grid[\s-]?tie", "inverter"),  # weak: a kit is on/off grid too
)  # fmt: skip
_WEAK = len(_CATEGORY_WORDS) - 2  # kit and the grid words name a product only when nothing more specific does
_CATEGORY_RE = [(re.compile(rf"\b(?:{pattern})(?![a-z])"), category) for pattern, category in _CATEGORY_WORDS]
_FOR = re.compile(r"\bp/|\bpara\b|\bfor\b")  # what an accessory is for: `CABO P/ PAINEL` is a cable
_LABELS = {
    "inverter": "inverter", "inverters": "inverter", "inversor": "inverter", "inversores": "inverter",
    "microinverter": "microinverter", "microinverters": "microinverter", "microinversor": "microinverter",
    "microinversores": "microinverter", "hybrid_inverter": "hybrid_inverter", "hybrid_inverters": "hybrid_inverter",
    "hybrid": "hybrid_inverter", "panel": "module", "panels": "module", "painel": "module", "paineis": "module",
    "module": "module", "modules": "module", "modulo": "module", "modulos": "module", "battery": "battery",
    "batteries": "battery", "bateria": "battery", "baterias": "battery", "charge_controller": "charge_controller",
    "charge_controllers": "charge_controller", "controller": "charge_controller", "controllers": "charge_controller",
    "structure": "structure", "structures": "structure", "estrutura": "structure", "estruturas": "structure",
    "kit": "kit", "kits": "kit",
}  # fmt: skip


def _hits(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), i, category) for i, (rx, category) in enumerate(_CATEGORY_RE) if (m := rx.search(text))]


def category_in(text: str | None) -> str | None:
    """The category a title or description names, or None when it names none. Read in the part before any
    `P/` / `para` (what a part is for) when that part names one. An inverter qualified anywhere there as micro or
    hybrid is that kind (`ON-GRID ... MICROINVERSOR`, `Inversor Off Grid Híbrido`); `kit` counts only when
    nothing more specific is named (`EV KIT, CABLE` is a cable), and grid words (`ON-GRID`) name an inverter
    only when neither a product word nor `kit` is there (`Kit ... Off Grid` is a kit)."""
    words = fold(clean(text))
    hits = _hits(_FOR.split(words, maxsplit=1)[0]) or _hits(words)
    if not hits:
        return None
    specific = [hit for hit in hits if hit[1] < _WEAK]
    _, _, category = min(specific) if specific else min(hits, key=lambda hit: (hit[1], hit[0]))
    if category == "inverter":
        for qualified in ("microinverter", "hybrid_inverter"):
            if any(cat == qualified for _, _, cat in specific):
                return qualified
    return category


def category_from_label(label: Any) -> str | None:
    """The category a source's own section or role label names (`inverters`, `Painéis`, `charge-controller`)."""
    return _LABELS.get(re.sub(r"[\s-]+", "_", fold(clean(label))))


def classify_category(texts: Iterable[str | None], label: str | None = None) -> str:
    """From the texts in order (name, then description), else the record's category label, else "other"."""
    for text in texts:
        category = category_in(text)
        if category:
            return category
    return category_from_label(label) or "other"


# ------------------------------------------------------------------------------------------------ values

_UNAVAILABLE = re.compile(
    r"\b(?:indisponivel|unavailable|esgotad[oa]|sem\s+estoque|out\s+of\s+stock|sold\s+out|sob\s+consulta)\b"
)
_AVAILABLE = re.compile(r"\b(?:disponivel|available|em\s+estoque|in\s+stock)\b")


def normalize_availability(value: Any) -> str | None:
    """ "available" / "unavailable" from the words a store writes (`Disponível`, `Esgotado`, `Sem estoque`,
    `Sob consulta`); None when it says neither (`sob encomenda`)."""
    words = fold(clean(value))
    if _UNAVAILABLE.search(words):
        return "unavailable"
    if _AVAILABLE.search(words):
        return "available"
    return None


def is_unavailable_label(value: Any) -> bool:
    """A cell that is, as a whole, an unavailability word (`Indisponível`): a button or badge, not prose."""
    return bool(_UNAVAILABLE.fullmatch(fold(clean(value))))


_MONO = re.compile(r"\b(?:mono(?:fasic[oa])?|monof\.?|single[\s-]phase|1f)(?![a-z])")
_TRI = re.compile(r"\b(?:tri(?:fasic[oa])?|trif\.?|three[\s-]phase|3f)(?![a-z])")


def parse_phases(text: str | None) -> int | None:
    """monofásico / monof. / mono -> 1, trifásico / trif. / tri -> 3; None when neither is named, or both
    (`MONO 220 / TRI 380V` is a range, not one product), or bifásico (split phase is neither)."""
    words = fold(clean(text))
    one, three = bool(_MONO.search(words)), bool(_TRI.search(words))
    if one == three:
        return None
    return 1 if one else 3


_DC_AC = re.compile(r"(?<![\d.,])\d{1,2}\s*(?:vcc|vdc|v)?\s*/\s*(\d{3})(?:\s*-\s*\d{3})?\s*v")
_VOLTS = re.compile(r"(?<![\d.,/])(\d{3,4})(?:\s*[-/]\s*\d{3,4})*\s*(?:vca|vac|v)\b")


def parse_voltage(text: str | None) -> int | None:
    """The nominal AC voltage: `220V`, `380 Vac`, `127Vca`; `48/220V` -> 220 (a DC/AC pair); `220/380V` and
    `120-240V` -> the first. Only 100-1000 V: lower voltages are battery or DC ones (`48V`), not AC."""
    words = fold(clean(text))
    pair = _DC_AC.search(words)
    if pair and 100 <= int(pair.group(1)) <= 1000:
        return int(pair.group(1))
    for match in _VOLTS.finditer(words):
        volts = int(match.group(1))
        if 100 <= volts <= 1000:
            return volts
    return None


_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{1,2})?)\s*%")
_EFFICIENCY_WORD = re.compile(r"\bef\b|\bef\.|eficien|efficien")


def parse_efficiency(text: str | None) -> float | None:
    """A stated efficiency: `EF. 22.6%`, `(22,1% EF.)`, `eficiência de 21,3%` -> the number; a percentage only
    counts next to an efficiency word (a `100%` elsewhere is not one), and only 5-100."""
    words = fold(clean(text))
    for match in _PERCENT.finditer(words):
        window = words[max(0, match.start() - 20) : match.end() + 8]
        if _EFFICIENCY_WORD.search(window):
            number = parse_decimal(match.group(1))
            if number is not None and 5 <= number <= 100:
                return number
    return None


# ------------------------------------------------------------------------------------------------ models

_SPEC = re.compile(
    r"^\d+(?:[.,]\d+)*\s*(?:k|m)?(?:wp?|wh|kwh|va|v|vac|vca|vcc|vdc|a|ah|mppts?|mm|m|awg|h|x|un)$"
    r"|^(?:mono|bi|tri)(?:fasico)?$|^mppts?$|^\d+(?:[.,]\d+)*$",
    re.IGNORECASE,
)
_NOT_MODEL = re.compile(r"^(?:ip\d{2}|[2-5]g|\d+x|x\d+|mc4(?:-evo2)?|afci|g4|\d{1,2}h|[a-z]{0,2}\d{1,2}h)$", re.I)
_BRACKETED = re.compile(r"[(\[]([A-Za-z0-9][A-Za-z0-9./+-]{2,}[A-Za-z0-9]|[A-Z]{2,4} [A-Za-z0-9][A-Za-z0-9./+-]*)[)\]]")
_BRAND_TAIL = {"solar", "energy", "power", "green", "technology", "ess"}
_SEPARATORS = {"-", "\u2013", "\u2014", "|", "/", ":"}


def _is_measure(token: str) -> bool:
    """`620Wp`, `100Ah/48V`, `48/220V`, `2,25KW`: every /- part a number with an optional unit."""
    parts = [part for part in re.split(r"[/\-~]", token) if part]
    return bool(parts) and all(_SPEC.match(fold(part)) for part in parts)


def _is_code(token: str, letters: bool = False) -> bool:
    """A model-code token: 3+ characters mixing digits with letters (or, after a series word, dashes: `5.0-30`),
    not a measurement (`620Wp`, `100Ah/48V`) or a standard (IP65, MC4)."""
    letter = bool(re.search(r"[A-Za-z]", token))
    return (
        len(token) >= 3
        and bool(re.search(r"\d", token))
        and (letter or (not letters and "-" in token))
        and bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9./+-]*[A-Za-z0-9]", token))
        and not _SPEC.match(fold(token))
        and not (letter and _is_measure(token))
        and not _NOT_MODEL.match(token)
    )


def _code_after(words: list[str]) -> str | None:  # "" for unsure
    """The model code right after a brand: powers and voltages right after it are skipped; a code led by a digit
    (`3000TL-X`) keeps the short upper-case series word before it (`MIN 3000TL-X`, `SPH 3000`); None once a spec
    follows a word, and None when the code is split by a spaced dash (`NEO 2000M - X`: where it ends is unsure)."""
    previous: str | None = None
    for index, raw in enumerate(words):
        word = raw.strip(",;:()[]")
        word = word.rstrip("-") if len(word) > 1 else word  # `MID36KTL3- X`: a dash glued to the code
        if not word or word in _SEPARATORS:
            previous = None
            continue
        if fold(word) in _BRAND_TAIL:
            continue
        series = previous if previous and re.fullmatch(r"[A-Z]{2,4}", previous) else None
        code = None
        if _is_code(word):
            code = f"{series} {word}" if series and word[0].isdigit() else word
        elif series and re.fullmatch(r"\d{3,6}", word):
            code = f"{series} {word}"
        if code:
            rest = [w.strip(",;:()[]") for w in words[index + 1 : index + 3]]
            if series and len(rest) == 2 and rest[0] in _SEPARATORS and re.fullmatch(r"[A-Z]{1,2}", rest[1]):
                return ""
            return code
        if _SPEC.match(fold(word)) or _is_measure(word):
            if previous is None:
                continue
            return None
        previous = word
    return None


def _first_code(text: str) -> str | None:
    for raw in re.split(r"[\s,;|]+", text):
        token = raw.strip("()[]{}.:;,")
        if "%" not in token and _is_code(token, letters=True):
            return token
    return None


def extract_model(text: str | None, brand: str | None = None) -> str | None:
    """A model code in a title: a bracketed code (`(SUN2000-75K-MGL0-BR)`, `[PCU-F52]`), else the code right after
    the brand (`SAJ R5-3K-T2`, `SOLIS-EPM3-5G-PRO`), else (no brand, or none after it) the first code
    in it (`Inversor Off Grid ZTROON ZT1000-11 - 1000W`); None when there is none or it is unsure."""
    text = clean(text)
    if not text:
        return None
    for match in _BRACKETED.finditer(text):
        if _is_code(match.group(1).split()[-1]):
            return match.group(1)
    tokens = text.split()
    if brand:
        brand_words = fold(brand).split()
        canonical = normalize_manufacturer(brand)
        lowered = [fold(token) for token in tokens]
        for start, token in enumerate(tokens):
            if "-" in token and normalize_manufacturer(token.split("-")[0]) == canonical and _is_code(token):
                return token.strip(",;")  # `SOLIS-EPM3-5G-PRO`: the brand-prefixed code itself
            if lowered[start : start + len(brand_words)] == brand_words:
                found = _code_after(tokens[start + len(brand_words) :])
            elif normalize_manufacturer(token) == canonical:
                found = _code_after(tokens[start + 1 :])
            else:
                continue
            if found is not None:
                return found or None
            break
    return _code_after(tokens) or _first_code(text)


# ------------------------------------------------------------------------------------------------ processed exporter

_PROCESSED_REQUIRED = {"name", "price"}
_PROCESSED_KNOWN = {"id", "manufacturer", "category", "image", "source", "availability", "description", "pricing"}


def tidy_model(model: str | None, description: str | None) -> str | None:
    """A store's model field without its feature suffix (`GW 3300-XS-30 - AFCI` -> `GW 3300-XS-30`) or trailing
    variant in brackets (`(16A)`), spelled as the description spells it when that differs only by spaces
    (`GW3300-XS-30`)."""
    text = clean(model)
    text = re.split(r"\s+-\s+|\s+-$", text)[0].strip()
    text = re.sub(r"\s*[(\[][^)\]]*[)\]]\s*$", "", text).strip()
    if not text or not re.search(r"[A-Za-z0-9]", text):
        return None
    compact = re.sub(r"\s+", "", text).upper()
    if " " in text:
        for token in clean(description).split():
            if token.strip(",;()-").upper() == compact:
                return token.strip(",;()-")
    return text


def price_holds_title(value: Any) -> bool:
    """A price field that holds a product title (it names a product type or a power) rather than a price or an
    unavailability word: the record's fields are shifted."""
    if not isinstance(value, str) or len(re.findall(r"[A-Za-zÀ-ÿ]{2,}", value)) < 2 or parse_brl(value) is not None:
        return False
    if normalize_availability(value) == "unavailable":
        return False
    return category_in(value) is not None or parse_power_w(value) is not None


def read_price(value: Any, numeric: Any = None) -> tuple[float | None, bool, str | None]:
    """(price, unavailable, rejection reason) for a price field and an optional numeric `pricing.price`."""
    text = clean(value) if not isinstance(value, int | float) or isinstance(value, bool) else value
    given_numeric = numeric not in (None, "")
    if text in ("", None):
        if not given_numeric:
            return None, False, None
        text = numeric
    if isinstance(text, str) and normalize_availability(text) == "unavailable":
        return None, True, None
    price = parse_brl(text)
    if price is None:
        return None, False, f"unparseable price {text!r}"
    if price <= 0:
        return None, False, f"non-positive price {text!r}"
    if given_numeric:
        other = parse_brl(numeric)
        if other is None or abs(other - price) > 0.005:
            return None, False, f"price {text!r} disagrees with pricing.price {numeric!r}"
    return price, False, None


def brand_of(raw_manufacturer: Any, distributor: str, texts: Iterable[str]) -> str | None:
    """The normalized manufacturer; the brand named in the texts when the record gives none or gives the
    distributor itself as a placeholder (kept only when the texts name the distributor as the brand)."""
    joined = " ".join(clean(text) for text in texts)
    manufacturer = normalize_manufacturer(clean(raw_manufacturer) or None)
    placeholder = manufacturer is not None and fold(manufacturer).replace(" ", "") == distributor
    if manufacturer is None or placeholder:
        named = known_manufacturer_in(joined)
        if named:
            return named
        if placeholder and distributor in fold(joined).replace(" ", ""):
            return manufacturer
        return None
    return manufacturer


def product_fields(name: str, description: str | None, category: str) -> dict[str, Any]:
    """power, phases, voltage and efficiency read from the name, then the description."""
    texts = [name, description or ""]
    inverter = category in ("inverter", "microinverter", "hybrid_inverter")
    values: dict[str, Any] = {"power_w": None, "phases": None, "voltage_v": None, "efficiency_pct": None}
    for text in texts:
        if values["power_w"] is None:
            values["power_w"] = parse_power_w(text)
        if values["phases"] is None and inverter:
            values["phases"] = parse_phases(text)
        if values["voltage_v"] is None and inverter:
            values["voltage_v"] = parse_voltage(text)
        if values["efficiency_pct"] is None:
            values["efficiency_pct"] = parse_efficiency(text)
    return values


def is_processed_list(data: Any) -> bool:
    """A JSON list of objects with `name` and `price` and some of the processed exporter's other keys."""
    if not isinstance(data, list):
        return False
    keys = {key for item in data if isinstance(item, dict) for key in item}
    return not data or (keys >= _PROCESSED_REQUIRED and len(keys & _PROCESSED_KNOWN) >= 2)


def read_processed_json(
    path: Path, data: list[Any], *, distributor: str, label: str, domain: str, layouts: tuple[str, ...]
) -> CatalogBatch:
    """A processed JSON list (`id, name, manufacturer, [model,] category, price, image, source, availability,
    description, pricing{price, currency}`) as products and rejected records."""
    sources = {clean(item.get("source")) for item in data if isinstance(item, dict)}
    if data and "" not in sources and not any(domain in fold(source) for source in sources):
        raise CatalogFormatError(
            f"{path.name}: not a {label} catalog: expected one of {layouts}; found records from "
            f"{', '.join(sorted(sources)[:5])}"
        )
    batch = CatalogBatch(distributor=distributor, file=path.name)
    seen: dict[str, int] = {}
    for index, record in enumerate(data, start=1):
        add_product(batch, index, _processed_record(index, record, distributor), seen)
    return batch


def read_processed_text(
    path: Path, text: str, *, distributor: str, label: str, domain: str, layouts: tuple[str, ...]
) -> CatalogBatch:
    """A JSON file's text read as the processed exporter's list (read_processed_json); any other JSON is not one
    of the distributor's layouts (CatalogFormatError saying what it holds)."""
    data = parse_json(path, text, label, layouts)
    if is_processed_list(data):
        return read_processed_json(path, data, distributor=distributor, label=label, domain=domain, layouts=layouts)
    raise CatalogFormatError(f"{path.name}: not a {label} catalog: expected one of {layouts}; found {json_found(data)}")


def add_product(batch: CatalogBatch, index: int, result: Product | Rejected, seen: dict[str, int]) -> None:
    """Append a product (a repeated product id rejects the later record) or a rejection."""
    if isinstance(result, Rejected):
        batch.rejected.append(result)
    elif result.product_id in seen:
        reason = f"duplicate product id {result.product_id!r} (record {seen[result.product_id]})"
        batch.rejected.append(Rejected(index, reason, result.raw_record))
    else:
        seen[result.product_id] = index
        batch.products.append(result)


def _processed_record(index: int, record: Any, distributor: str) -> Product | Rejected:
    raw = raw_json(record)
    if not isinstance(record, dict):
        return Rejected(index, f"not a JSON object ({type(record).__name__})", raw)
    if not any(clean(value) for value in record.values() if not isinstance(value, dict | list)):
        return Rejected(index, "empty record", raw)
    name = clean(record.get("name"))
    description = clean(record.get("description")) or None
    price_field = record.get("price")
    if re.match(r"^https?://", name, re.IGNORECASE) or price_holds_title(price_field):
        return Rejected(
            index,
            f"fields shifted: price holds text {clean(price_field)!r} and name holds {name!r}; "
            "the record's real price is not in it",
            raw,
        )
    if not name:
        return Rejected(index, "no name", raw)
    if is_test_entry(name) or is_test_entry(description):
        return Rejected(index, f"store test entry {name!r}", raw)
    pricing = record.get("pricing") if isinstance(record.get("pricing"), dict) else {}
    currency = clean(pricing.get("currency")).upper()
    if currency and currency != "BRL":
        return Rejected(index, f"price in {currency}, not BRL", raw)
    price, unavailable, problem = read_price(price_field, pricing.get("price"))
    if problem:
        return Rejected(index, problem, raw)

    category = classify_category([name, description], clean(record.get("category")))
    manufacturer = brand_of(record.get("manufacturer"), distributor, [name, description or ""])
    model = _record_model(record, name, description, manufacturer)
    return Product(
        distributor=distributor,
        product_id=clean(record.get("id")) or derived_id(distributor, name, model or "", description or ""),
        category=category,
        name=name,
        manufacturer=manufacturer,
        model=model,
        price_brl=price,
        availability="unavailable" if unavailable else normalize_availability(record.get("availability")),
        url=http_url(record.get("url")),
        image_url=http_url(record.get("image")),
        description=description,
        raw_record=raw,
        **product_fields(name, description, category),
    )


def _record_model(record: dict[str, Any], name: str, description: str | None, manufacturer: str | None) -> str | None:
    given = clean(record.get("model"))
    brand = clean(record.get("manufacturer"))
    if given and fold(given) != fold(brand) and normalize_manufacturer(given) != manufacturer:
        return tidy_model(given, description)
    if brand and fold(name).startswith(fold(brand) + " "):  # `GOODWE GW 3300-XS-30 - AFCI`: brand + store model
        return tidy_model(name[len(brand) :], description)
    return extract_model(name, brand or manufacturer) or extract_model(description, brand or manufacturer)
