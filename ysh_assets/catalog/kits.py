"""Kit parsing shared by every distributor adapter that sells kits.

A kit is described in prose by the distributors: NeoSolar writes a composition string
(`2x 620Wp DAH | 1x 40A MPPT Epever | 1x 100Ah/48V Lítio Ztroon | Sem Inversor`), Fotus a title
(`KP04 - ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.) - MICROINVERSOR DEYE 2.25KW - 1,20 kWp - Cerâmico`).
The parsers here read those with a small grammar (segments, a quantity prefix, units, category words and
brand names), never with rules for particular rows:

- `parse_composition` — a composition string -> `KitComponent`s.
- `parse_kit_title` — a kit title -> `KitTitle` (kWp, kit type, source id, module, inverter, structure, CD).
- `derive_module_quantity` — the module count from kWp / module W, only where that is unambiguous.
- `stable_kit_id` — our id for a kit, unique per distinct kit even where the source reuses its id.
- `kit_accuracy` — how many kits are self-consistent (title kWp = modules x W, every quantity known).

The product-field rules these parsers share with the adapters (categories, model codes, phases, AC voltage,
efficiency, text cleaning, hashing) are in fields.py.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ysh_assets.catalog.fields import category_in, clean, extract_model, fold, short_hash
from ysh_assets.catalog.records import Kit, KitComponent, known_manufacturer_in, normalize_manufacturer, parse_decimal

__all__ = [
    "KitTitle", "category_of", "derive_inverter_quantity", "derive_module_quantity",
    "kit_accuracy", "kit_check", "kit_type_of", "mlpe_of", "normalize_center", "parse_component", "parse_composition",
    "parse_kit_title", "split_composition", "stable_kit_id", "watts_of", "wp_of",
]  # fmt: skip

# ------------------------------------------------------------------------------------------------ text


_HYBRID = re.compile(r"\bhibrid[oa]s?\b|\bhybrid\b")


def category_of(text: str) -> str:
    """The category a title or a component description names (fields.category_in), "other" when none."""
    return category_in(text) or "other"


_NUMBER = r"\d+(?:[.,]\d+)*"
_WP = re.compile(rf"({_NUMBER})\s*(k)?\s*wp\b", re.IGNORECASE)
_W = re.compile(rf"({_NUMBER})\s*(k)?w(?![a-z])", re.IGNORECASE)  # W or kW, not Wp / Wh
_AH = re.compile(rf"({_NUMBER})\s*ah\b", re.IGNORECASE)
_AMP = re.compile(rf"({_NUMBER})\s*a\b", re.IGNORECASE)


def _power(match: re.Match[str] | None) -> float | None:
    if match is None:
        return None
    number = parse_decimal(match.group(1))
    if number is None:
        return None
    return round(number * (1000.0 if match.group(2) else 1.0), 6)


def wp_of(text: str) -> float | None:
    """The first peak power written with a `Wp`/`kWp` unit, in W (`2.220Wp` -> 2220, `2.32kWp` -> 2320)."""
    return _power(_WP.search(text))


def watts_of(text: str) -> float | None:
    """The first power written with a `W`/`kW` unit (not `Wp`, not `Wh`), in W (`2.25KW` -> 2250)."""
    return _power(_W.search(text))


# ------------------------------------------------------------------------------------------------ composition

_QTY = re.compile(
    r"^(\d{1,4})\s*(?:x|un\.?|unid\.?|unidades?|p[cç]s?\.?)(?![a-z])\s*|"  # 2x, 10 x, 10un, 3 pçs
    r"^(\d{1,4})\s+(?=(?!(?:k?wp?|w|kw|ah|a|v|vcc|vca|h|wh)\b)[a-zà-ú])",  # 3 Painéis (a word, not a unit)
    re.IGNORECASE,
)
_ABSENT = re.compile(r"^(?:sem|s/)\s+\w+", re.IGNORECASE)  # `Sem Inversor`: the kit has none
_LABEL = re.compile(r"^([^\d:|]{1,30}):\s*(.*)$")  # `Diário: 10h`, `Composição: ...`
_LIST_LABELS = {"composicao", "composicao do kit", "itens", "inclui", "conteudo", "componentes"}
_MARCA = re.compile(r"\bmarca\s*:\s*([A-Za-zÀ-ú][\w&.\- ]*)", re.IGNORECASE)
# Words that describe rather than name: never a manufacturer.
_GENERIC = {
    "de", "da", "do", "das", "dos", "com", "c", "para", "e", "s", "solar", "solares", "painel", "paineis",
    "modulo", "modulos", "bateria", "baterias", "estacionaria", "litio", "chumbo", "carbono", "chumbo-carbono",
    "acido", "gel", "agm", "mppt", "pwm", "controlador", "controladores", "carga", "inversor", "inversores",
    "microinversor", "inv-carregador", "carregador", "inv", "car", "senoidal", "pura", "off", "on", "grid",
    "hibrido", "monofasico", "trifasico", "bifacial", "monocristalino", "policristalino", "n-type", "tier",
    "kit", "instal", "insta", "instalacao", "marca", "estrutura", "cabo", "cabos", "conector", "conectores",
    "mc4", "string", "box", "stringbox", "vcc", "vca", "wp", "kwp", "w", "kw", "ah", "v", "a", "h",
    # roofs and mounts, which describe a structure
    "telhado", "ceramico", "ceramica", "colonial", "fibrocimento", "metalico", "metalica", "laje", "solo", "zinco",
    "trapezoidal", "sem", "perfil", "aluminio", "carport", "fixacao", "suporte", "telha",
}  # fmt: skip
# A singular category noun leading an item without a count (`Inversor 2000W 48Vcc / 127Vca`) is one unit.
_SINGULAR = re.compile(
    r"^(?:micro\s*)?inversor|^inv-|^bateria(?!s)|^controlador(?!es)|^painel|^modulo(?!s)|^estrutura(?!s)"
)


def _manufacturer(text: str, leftover: bool = True) -> str | None:
    """`Marca: X` first, then a known brand, then what is left of the words once measures and descriptive words are
    removed (at most three words): `2x 220Ah/12V Moura` -> MOURA."""
    marca = _MARCA.search(text)
    if marca:
        return normalize_manufacturer(marca.group(1))
    known = known_manufacturer_in(text)
    if known:
        return known
    if not leftover:
        return None
    words = []
    for raw in re.split(r"[\s|+()]+", text):
        token = raw.strip(".,;:-/")
        if not token or re.search(r"\d", token) or fold(token) in _GENERIC or len(token) < 2:
            continue
        words.append(token)
    if 1 <= len(words) <= 3:
        return normalize_manufacturer(" ".join(words))
    return None


def _units_category(rest: str) -> str:
    """The category of a segment with no category word, from its units."""
    folded = fold(rest)
    if _AH.search(rest):
        return "battery"
    if re.search(r"\b(mppt|pwm)\b", folded) and _AMP.search(rest):
        return "charge_controller"
    if _WP.search(rest):
        return "module"
    if _W.search(rest) and re.search(r"\d\s*v", folded):
        return "inverter"
    if re.search(r"\b(mppt|pwm)\b", folded):
        return "charge_controller"
    return "other"


def parse_component(segment: str) -> KitComponent | None:
    """One composition item (`2x 620Wp DAH`, `1x Bateria Estácionaria 12V 165Ah / 150Ah`, `3 Painéis Solares de
    330Wp`) -> a KitComponent; None for an item that is not a component (`Sem Inversor`, `Diário: 10h`)."""
    text = clean(segment).strip(" .;,")
    if not text or _ABSENT.match(text):
        return None
    label = _LABEL.match(text)
    labelled: str | None = None  # the category a `Painéis: 2x 585Wp` label names
    if label and not re.match(r"^\s*\d", text) and not _MARCA.match(text):
        name = fold(label.group(1)).strip()
        labelled = _label_category(name)
        if name not in _LIST_LABELS and labelled is None:
            return None  # a `label: value` note (autonomy, daily energy, system voltage), not a component
        text = label.group(2).strip()
        if not text or _NEGATIVE.match(fold(text)):
            return None  # `Estrutura: Não`: the kit has none
    quantity: int | None = None
    rest = text
    match = _QTY.match(text)
    if match:
        quantity = int(match.group(1) or match.group(2))
        rest = text[match.end() :].strip()
    derived = False
    if quantity is None and _SINGULAR.match(fold(rest)):
        quantity, derived = 1, True
    category = category_of(rest)
    if category == "kit":
        category = "other"  # `kit instal(ação)`: accessories bundle
    elif category == "other":
        category = _units_category(rest)
        if category == "other" and labelled is not None:
            category = labelled
        elif category == "other" and quantity is None and not re.search(r"\d", rest):
            return None  # no count, no number, no category word (`Nobreak`, `Compre múltiplos ...`): a note
    power: float | None = None
    if category == "module":
        power = wp_of(rest) or watts_of(rest)
        if quantity is None and not re.search(r"paine|modul|placa", fold(rest)):
            power = None  # a bare `320 Wp` may be the array, not one module: not a per-unit power
    elif category in ("inverter", "microinverter", "hybrid_inverter"):
        power = watts_of(rest)
    return KitComponent(
        category=category,
        quantity=quantity,
        description=text,
        quantity_derived=derived,
        power_w=power,
        manufacturer=_manufacturer(rest, leftover=category != "other"),  # accessories lists: no brand guess
        model=extract_model(rest),
    )


_LABEL_CATEGORIES: tuple[tuple[str, str], ...] = (
    (r"micro\s*-?\s*inversor(?:es)?", "microinverter"),
    (r"inversor(?:es)?(?:\s+hibrido)?|inversor-carregador|inv-car\w*", "inverter"),
    (r"paine(?:l|is)(?:\s+solar(?:es)?)?|modulos?(?:\s+fotovoltaicos?)?|placas?", "module"),
    (r"baterias?|banco\s+de\s+baterias", "battery"),
    (r"controlador(?:es)?(?:\s+de\s+carga)?", "charge_controller"),
    (r"estruturas?|suportes?", "structure"),
    (r"acessorios?|cabos?|conectores?|string\s*box|protecao|protecoes", "other"),
)
_NEGATIVE = re.compile(r"^(?:nao|no|sem|n/a|nenhum[a]?|-+)\b", re.IGNORECASE)


def _label_category(label: str) -> str | None:
    """The category a list label names as a whole (`Painéis`, `Baterias`, `Acessórios`); None for a note label
    (`Tipo de Bateria`, `Potência`, `Energia`). `hibrido` labels keep the generic word's category."""
    for pattern, category in _LABEL_CATEGORIES:
        if re.fullmatch(pattern, label):
            if category == "inverter" and _HYBRID.search(label):
                return "hybrid_inverter"
            return category
    return None


def _split_plus(part: str) -> list[str]:
    """` + ` separates items only when every piece starts with a count (`3 Painéis ... + 1 Controlador ...`);
    `Conectores CA + MC4, Cabo CC` stays one item."""
    pieces = [p.strip() for p in re.split(r"\s\+\s", part) if p.strip()]
    if len(pieces) > 1 and all(re.match(r"^\d", p) for p in pieces):
        return pieces
    return [part]


def split_composition(text: str) -> list[str]:
    """Composition items: split on `|` (glued or doubled too) and on `+` between items (`3 Painéis ... + 1
    Controlador ...`); a `Composição:` label in an item is kept for parse_component to unwrap."""
    items: list[str] = []
    for part in re.split(r"\|", clean(text)):
        part = part.strip()
        if not part:
            continue
        label = _LABEL.match(part)
        if label and fold(label.group(1)).strip() in _LIST_LABELS:
            part = label.group(2)
            items.extend(_split_plus(part))
        elif label and not re.match(r"^\s*\d", part):
            value = label.group(2).strip()
            pieces = _split_plus(value)
            items.extend([part] if len(pieces) == 1 else [f"{label.group(1)}: {p}" for p in pieces])
        else:
            items.extend(_split_plus(part))
    return items


def parse_composition(text: str | None) -> list[KitComponent]:
    """NeoSolar-style composition -> components (see module doc). `Sem Inversor` yields no component; notes such as
    `Diário: 10h` are not components; an item without a quantity keeps quantity None (see derive_module_quantity)."""
    if not text:
        return []
    components = []
    for item in split_composition(text):
        component = parse_component(item)
        if component is not None:
            components.append(component)
    return components


# ------------------------------------------------------------------------------------------------ titles


@dataclass
class KitTitle:
    kwp: float | None = None
    kwp_text: str | None = None  # the kWp as written (`1,24kWp`), for precision-aware checks
    kit_type: str | None = None  # grid_tie | off_grid | hybrid
    source_id: str | None = None  # `(27314)` at the end of a NeoSolar title
    code: str | None = None  # `KP04` at the start of a Fotus title
    module: KitComponent | None = None  # the module a title names (Fotus), quantity None
    inverter: KitComponent | None = None  # the inverter a title names (Fotus), quantity None
    mounting_structure: str | None = None
    distribution_center: str | None = None


_KWP = re.compile(rf"({_NUMBER})\s*kwp\b", re.IGNORECASE)
_TITLE_SPLIT = re.compile(r"\s+[-\u2013]\s*|\s*[-\u2013]\s+")  # a dash with space on one side: not `N-TYPE`
_CD = re.compile(r"^(?:CD|centro\s+de\s+distribui\w+)\b", re.IGNORECASE)


def kit_type_of(text: str) -> str | None:
    folded = fold(text)
    if _HYBRID.search(folded):
        return "hybrid"
    if re.search(r"\boff[\s-]?grid\b|\bisolad[oa]\b", folded):
        return "off_grid"
    if re.search(r"\bon[\s-]?grid\b|\bgrid[\s-]?tie\b|\bconectad[oa] a rede\b", folded):
        return "grid_tie"
    return None


def normalize_center(text: str | None) -> str | None:
    """`CD SUDESTE| PRONTA ENTREGA` and `CD SUDESTE | PRONTA ENTREGA` -> one spelling."""
    value = clean(text)
    if not value:
        return None
    return re.sub(r"\s*\|\s*", " | ", value).strip(" |")


def _stated_kwp(text: str) -> tuple[float | None, str | None]:
    match = _KWP.search(text)
    if match:
        value = parse_decimal(match.group(1))
        if value is not None:
            return value, match.group(0)
    # No kWp: the first `Wp` that is not a module count (`2x 620Wp`), e.g. `Kit ... Off Grid - 680Wp 100Ah/24V`.
    for wp in _WP.finditer(text):
        before = text[: wp.start()].rstrip()
        if re.search(r"\d\s*x$", before, re.IGNORECASE):
            continue
        value = _power(wp)
        if value is not None:
            return round(value / 1000.0, 6), wp.group(0)
    return None, None


def parse_kit_title(text: str | None) -> KitTitle:
    """A kit title -> KitTitle. NeoSolar: `Kit Energia Solar Off Grid - 1,24kWp 100Ah/48V Lítio (27314)`; Fotus:
    `KP04 - ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.) - MICROINVERSOR DEYE 2.25KW - 1,20 kWp -
    Cerâmico - CD ESPÍRITO SANTO`. Segments are the parts between dashes with a space on at least one side."""
    title = clean(text)
    result = KitTitle()
    if not title:
        return result
    result.kwp, result.kwp_text = _stated_kwp(title)
    result.kit_type = kit_type_of(title)
    source = re.search(r"\((\d{3,})\)\s*$", title)
    if source:
        result.source_id = source.group(1)
    segments = [s.strip() for s in _TITLE_SPLIT.split(title) if s.strip()]
    if segments and re.fullmatch(r"[A-Z]{1,4}\s?\d{1,3}[A-Z]?", segments[0]):
        result.code = segments[0].replace(" ", "")
        segments = segments[1:]
    after_kwp = False
    for segment in segments:
        category = category_of(segment)
        if _CD.match(segment):
            result.distribution_center = normalize_center(segment)
        elif _KWP.fullmatch(segment.strip()):
            after_kwp = True
        elif category in ("inverter", "microinverter", "hybrid_inverter") and result.inverter is None:
            if re.match(r"^(?:micro\s*)?inversor|^inv", fold(segment)):
                brand = known_manufacturer_in(segment)
                if brand is None:
                    word = re.match(r"^\S+\s+([A-Za-z][A-Za-z]+)", segment)
                    brand = normalize_manufacturer(word.group(1)) if word else None
                result.inverter = KitComponent(
                    category=category,
                    quantity=None,
                    description=segment,
                    power_w=watts_of(segment),
                    manufacturer=brand,
                    model=extract_model(segment),
                )
        elif result.module is None and result.code and _module_segment(segment):
            power = watts_of(segment) or wp_of(segment)
            brand = known_manufacturer_in(segment)
            if brand is None:
                first = segment.split("|")[0].strip()
                brand = normalize_manufacturer(first) if first and not re.search(r"\d", first) else None
            result.module = KitComponent(
                category="module",
                quantity=None,
                description=segment,
                power_w=power,
                manufacturer=brand,
                model=None,
            )
        elif after_kwp and result.mounting_structure is None and not re.search(r"\d", segment):
            result.mounting_structure = segment
    return result


def _module_segment(segment: str) -> bool:
    """A title segment that names the module: a power in W between 50 and 1000 plus module words or a brand."""
    power = watts_of(segment) or wp_of(segment)
    if power is None or not 50 <= power <= 1000:
        return False
    folded = fold(segment)
    return bool(
        re.search(r"n-?type|p-?type|bifacial|monofacial|mono|tier|paine|modul|half|cell|topcon|hjt", folded)
        or known_manufacturer_in(segment)
    )


# ------------------------------------------------------------------------------------------------ quantities


def derive_module_quantity(components: list[KitComponent], kwp: float | None) -> None:
    """Where the source gives no module quantity, derive it from the kit's kWp: only when there is exactly one
    module line without a quantity, its power is known, and kWp x 1000 / W is within 1% of a positive integer
    (2 modules of 600 W in a 1,20 kWp kit). Sets quantity_derived; otherwise leaves quantity None."""
    if not kwp or kwp <= 0:
        return
    modules = [c for c in components if c.category == "module"]
    missing = [c for c in modules if c.quantity is None]
    if len(missing) != 1 or not missing[0].power_w:
        return
    known_w = sum((c.quantity or 0) * (c.power_w or 0) for c in modules if c.quantity is not None)
    if any(c.quantity is not None and not c.power_w for c in modules):
        return
    remaining = kwp * 1000.0 - known_w
    ratio = remaining / missing[0].power_w
    count = round(ratio)
    if count >= 1 and abs(ratio - count) <= 0.01 * count:
        missing[0].quantity = count
        missing[0].quantity_derived = True


def mlpe_of(text: str) -> int | None:
    """Module inputs of a microinverter: `(4 MLPE)`, `4 entradas` -> 4."""
    match = re.search(r"(\d{1,2})\s*(?:mlpe|entradas|inputs|modulos)\b", fold(text))
    return int(match.group(1)) if match else None


def derive_inverter_quantity(component: KitComponent, kwp: float | None, module_count: int | None) -> None:
    """Derive an inverter count the source does not give (or gives implausibly), only when unambiguous:
    a microinverter with N module inputs serves ceil(modules / N) units (every module needs an input, no more
    units than that); a string inverter of known power: the one count n for which the DC/AC ratio
    kWp / (n x W) lies in 0.8-1.6. Otherwise quantity stays None."""
    if component.quantity is not None:
        return
    if component.category == "microinverter":
        inputs = mlpe_of(component.description)
        if inputs and module_count:
            component.quantity = math.ceil(module_count / inputs)
            component.quantity_derived = True
        return
    if not kwp or not component.power_w:
        return
    fits = [n for n in range(1, 21) if 0.8 <= kwp * 1000.0 / (n * component.power_w) <= 1.6]
    if len(fits) == 1:
        component.quantity = fits[0]
        component.quantity_derived = True


# ------------------------------------------------------------------------------------------------ ids


def _id_text(value: Any) -> str:
    text = fold(clean(value))
    text = re.sub(
        r"\s*([|/()\-\u2013,])\s*", r"\1", text
    )  # `CD SUDESTE| X` = `CD SUDESTE | X`, `KP03 -TRINA` = `KP03 - TRINA`
    return text


def stable_kit_id(
    distributor: str, source_id: str | None, name: str, distribution_center: str | None = None, *extra: Any
) -> str:
    """Our id for a kit: `<distributor>-<source id>-<10 hex>`, the hex a SHA-1 of the content that tells kits
    apart (name, distribution centre, and any `extra` such as the inverter descriptions), normalized for case,
    accents and spacing so the same kit gets the same id every day. Prices are not part of it. Fotus reuses one
    `id` for kits with another inverter or another CD: each gets its own id, the source id stays in source_kit_id."""
    content = "\x1f".join(_id_text(part) for part in (distributor, source_id, name, distribution_center, *extra))
    digest = short_hash(content, 10)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(source_id)).strip("-") if source_id else "x"
    return f"{distributor}-{base}-{digest}"


# ------------------------------------------------------------------------------------------------ accuracy


def _tolerance(kwp: float, kwp_text: str | None) -> float:
    """1% of the kWp, or half a unit of the last digit the title states (`1,9kWp` is 1.85-1.95), whichever is
    larger: a title cannot be more exact than its digits."""
    tolerance = 0.01 * kwp
    if kwp_text:
        number = re.match(rf"({_NUMBER})", kwp_text)
        if number:
            digits = number.group(1)
            decimals = len(re.split(r"[.,]", digits)[-1]) if re.fullmatch(r"\d+[.,]\d{1,2}", digits) else 0
            scale = 1.0 if re.search(r"k", kwp_text, re.IGNORECASE) else 0.001
            tolerance = max(tolerance, 0.5 * 10**-decimals * scale)
    return tolerance


_UNCOUNTED = {"other", "structure"}


def _source_texts(kit: Kit) -> list[str]:
    """The strings of the kit's raw record other than its title (the composition, component fields)."""
    try:
        record = json.loads(kit.raw_record) if kit.raw_record else {}
    except json.JSONDecodeError:
        return []
    texts: list[str] = []
    stack = [record]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and clean(value) != kit.name:
            texts.append(value)
    return texts


def _checkable(kit: Kit, title: KitTitle) -> bool:
    """The kit can be checked from its own text: the title states the kWp, and the title names the module (Fotus)
    or the rest of the record writes a module power in Wp (a NeoSolar composition). Read from the raw text, not
    from the parsed components, so a parser that misses the modules cannot drop a kit from the check."""
    if title.kwp is None:
        return False
    if title.module is not None:
        return True
    if not kit.raw_record:
        return any(_WP.search(c.description) for c in kit.components)
    return any(_WP.search(text) for text in _source_texts(kit))


def kit_check(kit: Kit) -> dict[str, bool] | None:
    """Whether one kit's parsed composition agrees with its own title; None when the kit cannot be checked from its
    own text (see _checkable). Keys: kwp (modules x W = title kWp), modules (module count and power known, and the
    W the title names, if any), quantities (every component has a quantity; explicit counts read back), exact."""
    title = parse_kit_title(kit.name)
    if not _checkable(kit, title):
        return None
    modules = [c for c in kit.components if c.category == "module"]
    complete = bool(modules) and all(c.quantity and c.power_w for c in modules)
    total_kwp = sum((c.quantity or 0) * (c.power_w or 0) for c in modules) / 1000.0
    kwp_ok = complete and abs(total_kwp - title.kwp) <= _tolerance(title.kwp, title.kwp_text)
    modules_ok = complete and kwp_ok
    if modules_ok and title.module is not None and title.module.power_w:
        modules_ok = all(abs((c.power_w or 0) - title.module.power_w) < 0.5 for c in modules)
    quantities_ok = bool(kit.components)
    for component in kit.components:
        stated = _QTY.match(component.description)
        if component.category in _UNCOUNTED and component.quantity is None and not stated:
            continue  # an accessories or structure line the source gives no count for (cables, connectors)
        if not component.quantity or component.quantity < 1:
            quantities_ok = False
            break
        if stated and int(stated.group(1) or stated.group(2)) != component.quantity:
            quantities_ok = False
            break
    return {
        "kwp": kwp_ok,
        "modules": modules_ok,
        "quantities": quantities_ok,
        "exact": kwp_ok and modules_ok and quantities_ok,
    }


def kit_accuracy(kits: list[Kit]) -> dict[str, Any]:
    """Self-consistency of parsed kits, for `ysh bench catalog`. Over the kits that can be checked from their own
    text (`checkable`: the title states a kWp and the title or the composition states the module power), the share
    exact on kWp (modules x W within 1%, or the title's own rounding, of the title kWp), on module count and power,
    on component quantities, and on all three (`exact`); `failures` lists the kit ids that are not exact."""
    checks = [(kit, kit_check(kit)) for kit in kits]
    checked = [(kit, check) for kit, check in checks if check is not None]
    count = len(checked)

    def share(key: str) -> float | None:
        return round(sum(1 for _, check in checked if check[key]) / count, 4) if count else None

    return {
        "kits": len(kits),
        "checkable": count,
        "kwp_exact": share("kwp"),
        "modules_exact": share("modules"),
        "quantities_exact": share("quantities"),
        "exact": share("exact"),
        "failures": [kit.kit_id for kit, check in checked if not check["exact"]],
    }
