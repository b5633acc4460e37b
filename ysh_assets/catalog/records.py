"""What every distributor adapter returns, and the normalizations they share.

An adapter turns one distributor file into a `CatalogBatch`: products, kits (with their parsed components) and
rejected records, each rejection with its reason and the raw record, so nothing a file held is lost silently.
Values are normalized here once: BRL prices from `R$ 1.347,65`, powers from `585W` / `2,25 kW`, manufacturers
across spellings (`CANADIAN SOLAR` / `Canadian`, `LONGI` / `LONGi Green`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any

CATEGORIES: tuple[str, ...] = (
    "module",
    "inverter",
    "microinverter",
    "hybrid_inverter",
    "battery",
    "charge_controller",
    "structure",
    "kit",
    "other",
)


class CatalogFormatError(ValueError):
    """The file is not one of the layouts its distributor's adapter knows (or not a catalog at all)."""


@dataclass
class Product:
    distributor: str
    product_id: str  # the distributor's own id (or a stable one derived from the record when it has none)
    category: str  # one of CATEGORIES
    name: str
    manufacturer: str | None = None  # normalized: normalize_manufacturer()
    model: str | None = None
    power_w: float | None = None
    price_brl: float | None = None
    availability: str | None = None
    phases: int | None = None  # 1 or 3
    voltage_v: int | None = None  # nominal AC voltage (the first when several are given)
    efficiency_pct: float | None = None
    url: str | None = None
    image_url: str | None = None
    description: str | None = None
    raw_record: str = ""  # the source record as JSON text

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KitComponent:
    category: str  # one of CATEGORIES (never "kit")
    quantity: int | None
    description: str
    quantity_derived: bool = False  # the source gave no quantity; it was derived (unambiguously) from the kit
    power_w: float | None = None  # per unit, for modules (and inverters when stated)
    manufacturer: str | None = None
    model: str | None = None


@dataclass
class Kit:
    distributor: str
    kit_id: str  # ours, stable across days: unique per distinct kit even where the source reuses its id
    source_kit_id: str | None
    name: str
    kwp: float | None
    price_brl: float | None
    kit_type: str | None = None  # grid_tie | off_grid | hybrid
    mounting_structure: str | None = None
    distribution_center: str | None = None
    url: str | None = None
    components: list[KitComponent] = field(default_factory=list)
    raw_record: str = ""


@dataclass
class Rejected:
    record: int  # 1-based position of the record in the file (data line or JSON array index + 1)
    reason: str
    raw_record: str


@dataclass
class CatalogBatch:
    distributor: str
    file: str
    products: list[Product] = field(default_factory=list)
    kits: list[Kit] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # identical copies of an earlier record of the file (scrapes repeat pages): dropped and counted, not rejected;
    # a copy whose content differs is rejected as conflicting
    repeated: int = 0
    holds: str = "products"  # what the file's layout holds ("products" or "kits"), whatever was accepted

    def accepted_records(self) -> list[dict[str, Any]]:
        """Products, then kits, as the `ysh parse-catalog` JSON objects (normalized fields, no raw record)."""
        products = [{"kind": "product", **_without_raw(asdict(p))} for p in self.products]
        kits = [
            {"kind": "kit", "source_id": k.source_kit_id, **_without_raw(asdict(k), "source_kit_id")} for k in self.kits
        ]
        return products + kits

    def rejected_records(self) -> list[dict[str, Any]]:
        return [{"file": self.file, **asdict(r)} for r in self.rejected]


def _without_raw(row: dict[str, Any], *also: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "raw_record" and k not in also}


def same_content(a: Product | Kit, b: Product | Kit) -> bool:
    """Two parsed records that say the same thing, whatever their raw spelling (a repeated copy, not a conflict)."""
    return replace(a, raw_record="") == replace(b, raw_record="")


def raw_json(record: Any) -> str:
    """The raw record as compact JSON text (kept with every product, kit and rejection)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------ numbers

_BRL = re.compile(r"^(?:R\$)?\s*(-?)(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$")
_PLAIN = re.compile(r"^-?\d+(?:\.\d+)?$")


def parse_brl(value: Any) -> float | None:
    """`R$ 1.347,65`, `1.347,65`, `R$ 899`, or an already numeric price -> 1347.65; None for absent, `Indisponível`
    or anything else (never a guess: `1,347.65` is not a Brazilian price)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value else None
    text = " ".join(str(value).replace("\xa0", " ").split())
    if not text:
        return None
    match = _BRL.match(text)
    if match:
        sign, whole, cents = match.groups()
        number = float(whole.replace(".", "") + "." + (cents or "0"))
        return -number if sign else number
    if _PLAIN.match(text):  # `1347.65` as some processed JSON files write it
        return float(text)
    return None


_POWER = re.compile(r"(\d+(?:[.,]\d+)*)\s*(k|m)?w(?:p)?\b", re.IGNORECASE)


def parse_decimal(text: str) -> float | None:
    """A Brazilian or plain decimal: `2,25` / `2.25` -> 2.25; `1.500` (dots in groups of three) -> 1500."""
    text = text.strip()
    if re.fullmatch(r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?", text):  # a leading 0 is never a thousands group
        return float(text.replace(".", "").replace(",", "."))
    if re.fullmatch(r"\d+(?:,\d+)?", text) or re.fullmatch(r"\d+\.\d+", text):
        return float(text.replace(",", "."))
    return None


def parse_power_w(text: str | None) -> float | None:
    """The first power in `text`, in W: `585W` -> 585, `2,25KW` / `2.25 kW` -> 2250, `620Wp` -> 620,
    `2.220Wp` -> 2220 (dots in groups of three are thousands), `1,24kWp` -> 1240."""
    if not text:
        return None
    for match in _POWER.finditer(text):
        number = parse_decimal(match.group(1))
        if number is None:
            continue
        scale = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1.0)
        return round(number * scale, 6)
    return None


# ------------------------------------------------------------------------------------------------ names

# Spelling key (see _key) -> canonical manufacturer. Keys are what is left once accents, punctuation and the
# corporate words in _NOISE are removed, so `LONGi Green Energy Technology Co., Ltd.` and `LONGI` meet.
_CANONICAL = {
    "canadian": "CANADIAN SOLAR",
    "canadiansolar": "CANADIAN SOLAR",
    "csi": "CANADIAN SOLAR",
    "longi": "LONGI",
    "jinko": "JINKO",
    "jinkosolar": "JINKO",
    "trina": "TRINA",
    "trinasolar": "TRINA",
    "qcells": "Q CELLS",
    "ja": "JA SOLAR",
    "jasolar": "JA SOLAR",
    "astronergy": "ASTRONERGY",
    "chintastronergy": "ASTRONERGY",
    "risen": "RISEN",
    "byd": "BYD",
    "dah": "DAH SOLAR",
    "dahsolar": "DAH SOLAR",
    "hanersun": "HANERSUN",
    "sunova": "SUNOVA",
    "osda": "OSDA",
    "znshine": "ZNSHINE",
    "tongwei": "TONGWEI",
    "talesun": "TALESUN",
    "huasun": "HUASUN",
    "honor": "HONOR SOLAR",
    "honorsolar": "HONOR SOLAR",
    "solarnplus": "SOLAR N PLUS",
    "bluesun": "BLUESUN",
    "weg": "WEG",
    "huawei": "HUAWEI",
    "growatt": "GROWATT",
    "goodwe": "GOODWE",
    "deye": "DEYE",
    "sofar": "SOFAR",
    "sofarsolar": "SOFAR",
    "solis": "SOLIS",
    "ginlong": "SOLIS",
    "ginlongsolis": "SOLIS",
    "saj": "SAJ",
    "fronius": "FRONIUS",
    "solaredge": "SOLAREDGE",
    "sma": "SMA",
    "enphase": "ENPHASE",
    "hoymiles": "HOYMILES",
    "apsystems": "APSYSTEMS",
    "ap": "APSYSTEMS",
    "tsuness": "TSUNESS",
    "foxess": "FOXESS",
    "fox": "FOXESS",
    "livoltek": "LIVOLTEK",
    "epever": "EPEVER",
    "ztroon": "ZTROON",
    "pylontech": "PYLONTECH",
    "unipower": "UNIPOWER",
    "freedom": "FREEDOM",
    "intelbras": "INTELBRAS",
    "chint": "CHINT",
    "sungrow": "SUNGROW",
    "kehua": "KEHUA",
    "tsun": "TSUN",
    "nep": "NEP",
    "solplanet": "SOLPLANET",
    "aiswei": "SOLPLANET",
    "renovigi": "RENOVIGI",
    "ecosolys": "ECOSOLYS",
    "auxsol": "AUXSOL",
    "moura": "MOURA",
    "victron": "VICTRON",
    "victronenergy": "VICTRON",
}
_NOISE = {
    "co", "ltd", "inc", "corp", "corporation", "company", "limited", "group", "technology", "technologies", "tech",
    "energy", "power", "green", "new", "electric", "sa", "ltda", "eireli", "me", "the", "pv", "solar",
}  # fmt: skip


def _key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    kept = [w for w in words if w not in _NOISE] or words
    return "".join(kept)


def normalize_manufacturer(name: str | None) -> str | None:
    """One spelling per manufacturer: the canonical name when known, else the name upper-cased with its
    whitespace collapsed (so an unknown brand is still stable across distributors). None for empty."""
    if name is None:
        return None
    text = " ".join(str(name).split())
    if not text:
        return None
    key = _key(text)
    if key in _CANONICAL:
        return _CANONICAL[key]
    full = "".join(
        re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())
    )
    return _CANONICAL.get(full, unicodedata.normalize("NFC", text).upper())


def known_manufacturer_in(text: str) -> str | None:
    """The canonical manufacturer named in free text (a title or a description), or None: the longest
    known spelling that appears as whole words wins (`JA SOLAR` over `SOLAR`)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    best: tuple[int, str] | None = None
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            key = "".join(words[start : start + size])
            if key in _CANONICAL and len(key) > 2 and (best is None or len(key) > best[0]):
                best = (len(key), _CANONICAL[key])
    return best[1] if best else None


_TEST_ENTRY = re.compile(r"^\s*(teste?|test)\b[\s\d_-]*$|\b(produto\s+teste|teste\s+\d+)\b", re.IGNORECASE)


def is_test_entry(title: str | None) -> bool:
    """Store test entries (`Teste 3`, `TESTE`, `produto teste`) are not products."""
    return bool(title) and bool(_TEST_ENTRY.search(title))
