"""A general reader of datasheet spec tables: row labels from a lexicon, columns from geometry.

A table is a header (a 'Model' / 'Power class' row, a row of model names, or for modules the Pmax row itself)
and the rows below it on the same page. Each row is a label (matched by `lexicon`) and value tokens; tokens are
assigned to the header's columns by position, so a value centred over several columns (a merged cell) belongs
to each of them, and STC/NOCT pairs side by side are told apart by their sub-header or by their size. A module
table stops being read as STC where a caption names another condition (NMOT, NOCT, rear-side gain) or a label
repeats (the next condition's table has the same labels). Rows outside any header belong to the sheet's own
single column (label/value lists). Nothing here knows a manufacturer or a layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median

from ysh_assets.datasheets.layout import Cell, Line, Span
from ysh_assets.datasheets.lexicon import (
    BATTERY_LABELS,
    INVERTER_LABELS,
    MODEL_HEADER,
    MODULE_LABELS,
    NON_STC,
    SECTIONS,
    STC,
    TITLE_HEADER,
    fold,
)
from ysh_assets.datasheets.values import (
    NUM,
    UNIT_ONLY,
    VALUE_START,
    parse_module_dimensions,
    parse_number,
    parse_range,
    parse_value,
    split_parts,
    unit_in,
)

MODULE_ELECTRICAL = ("pmax_w", "vmp_v", "imp_a", "voc_v", "isc_a", "efficiency_pct")
_NUMBER_WORD = re.compile(rf"^[≥≤<>~]?{NUM}(w|wp|v|a|%|kg|kw|kwh)?\*{{0,3}}$", re.IGNORECASE)
_GLUED = re.compile(r"^(\d{1,4})\.(\d{3,})\.(\d{1,3})$")  # '40.2437.90': two numbers printed without a gap
_OPERATOR = re.compile(r"^[≥≤<>~±]$")


@dataclass
class Token(Span):
    text: str


@dataclass
class Row:
    line: Line
    labels: list[Cell]
    tokens: list[Token]
    unit: str | None

    @property
    def label(self) -> str:
        return " ".join(c.text for c in self.labels)


def _split_glued(token: Token) -> list[Token]:
    match = _GLUED.match(token.text)
    if not match:
        return [token]
    head, middle, tail = match.groups()
    first, second = f"{head}.{middle[: len(tail)]}", f"{middle[len(tail) :]}.{tail}"
    cut = token.x0 + (token.x1 - token.x0) * len(first) / len(token.text)
    return [Token(token.x0, cut, first), Token(cut, token.x1, second)]


def _cell_tokens(cell: Cell) -> list[Token]:
    """One token per number when a cell is a list of plain numbers ('395 400 405', '39.28 37.10', '≥ 20.4'),
    else the whole cell ('80 - 520 V', '2 / 1', '52.43 lbs (23.78 kgs)')."""
    words: list[Token] = []
    for word in cell.words:
        text = word.text.strip()
        if words and (_OPERATOR.match(words[-1].text) or re.fullmatch(r"\d+[.,]", words[-1].text)):
            last = words.pop()  # '≥ 20.4' and '31. 21' are one number
            words.append(Token(last.x0, word.x1, last.text + text))
        else:
            words.append(Token(word.x0, word.x1, text))
    if len(cell.words) >= 2 and all(_NUMBER_WORD.match(w.text) for w in words):
        return [piece for w in words for piece in _split_glued(w)]
    return _split_glued(Token(cell.x0, cell.x1, cell.text))


def parse_rows(line: Line) -> list[Row]:
    """Label/value segments of a line: label cells up to the first value, then value tokens until the next label
    (two small tables side by side share a line). Unit-only cells ('[W]') give the segment's unit."""
    rows: list[Row] = []
    labels: list[Cell] = []
    tokens: list[Token] = []
    unit = None

    def close() -> None:
        if labels:
            rows.append(Row(line, list(labels), list(tokens), unit or unit_in(" ".join(c.text for c in labels))))

    for cell in line.cells:
        text = cell.text
        if UNIT_ONLY.match(text.replace(" ", "")) and labels:
            if tokens and cell is not line.cells[-1]:
                tokens[-1] = Token(tokens[-1].x0, cell.x1, f"{tokens[-1].text} {text.strip('[]()')}")
            else:  # before the values, or a last 'UNITS' column: the unit of every value in the row
                unit = text.strip("[]() ").replace(" ", "").lower()
            continue
        if not VALUE_START.match(text):
            if tokens:  # a label after values: the next segment
                close()
                labels, tokens, unit = [], [], None
            labels.append(cell)
            continue
        if not labels:
            continue  # numbers with no label to their left: drawing dimensions, axis ticks
        tokens.extend(_cell_tokens(cell))
    close()
    return rows


def joined(line: Line, rows: list[Row]) -> Row:
    """A line's segments (`parse_rows`) as one label/value row: header detection reads the line as printed."""
    if not rows:
        return Row(line, [], [], None)
    first = rows[0]
    return Row(line, first.labels, [t for r in rows for t in r.tokens], first.unit)


# --------------------------------------------------------------------------------------------------------------
# Headers and tables


@dataclass
class Column(Span):
    name: str
    labelled: bool = False  # named under a 'Model' / 'Power class' label, not guessed from a row of codes


@dataclass
class Table:
    page: int
    y: float
    columns: list[Column]
    stc: bool = True  # False once a caption names another condition, or a module label repeats
    implicit: bool = False  # columns taken from the Pmax row (no model header printed)
    ways: int = 1  # values per column in rows that print STC and NOCT side by side
    pick: int = 0  # which of them is STC
    series_header: str | None = None  # a single header cell merged over power-class columns ('HT54-18X')
    values: dict[int, dict[str, tuple[float | int, int]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    beside: list[Table] = field(default_factory=list)  # tables printed to its right under the same header line

    def spans(self, token: Token) -> bool:
        margin = 0.5 * (self.columns[-1].x1 - self.columns[0].x0) / max(len(self.columns), 1) + 10
        return self.columns[0].x0 - margin <= token.xc <= self.columns[-1].x1 + margin


def _is_model_cell(text: str) -> bool:
    return (
        len(text) <= 32
        and len(text.split()) <= 3
        and bool(re.search(r"\d", text))
        and len(re.findall(r"[A-Za-z]", text)) >= 2
        and "/" not in text
        and not re.fullmatch(rf"[≥≤<>~]?\s*{NUM}\s*(w|wp|kw|v|a|va|kva|kwh|mm|kg|%|hz|°c|℃)?\)?", text, re.I)
        and not re.match(r"^\d+\s*[x\u00d7]\s", text)
        and not re.match(rf"^[>≥<≤~]?{NUM}\s*(w|wp|kw|v|a|ah|kwh|mm|kg|%|x)\b", text, re.I)
        and not re.fullmatch(r"[>≥<≤~]\S*|\d+(?:[.,]\d+)?\s*[A-Za-z]+", text)  # '≥5000Cycles', '8.2MWh'
    )


def _header(row: Row) -> list[list[Column]]:
    """Column groups of a model header row: 'Module Type | JKM550M... | JKM555M...', 'POWER CLASS | 395 | 400',
    'Models | 3.8K | 5K ...', or an unlabelled row of model names ('SB 3000TL-21 | SB 3600TL-21'). Two tables
    side by side (two module formats) give two groups: 'Model | A-400 | A-405   Model | B-350 | B-355'."""
    cells = row.line.cells
    inline = re.match(r"^([A-Za-z .]{3,20}?)\s*(?:#|no\.?)?\s*:\s*(\S.*)$", cells[0].text)
    if inline and MODEL_HEADER.match(fold(inline.group(1))):  # 'MODEL #: 18KPV-V-12LV'
        name = re.split(r"\s[|/]\s|\s\(", inline.group(2))[0]  # 'WP-16/280-1AWLL | WP-16/280-1-AWLL': one model
        return [[Column(cells[0].x1 - 1, cells[0].x1, name, labelled=True)]]
    if len(cells) >= 2 and MODEL_HEADER.match(fold(cells[0].text)):
        groups: list[list[Column]] = [[]]
        for cell in cells[1:]:
            if MODEL_HEADER.match(fold(cell.text)):
                groups.append([])
                continue
            pieces = _cell_tokens(cell) if re.fullmatch(r"[\d\s]+", cell.text) else [Token(cell.x0, cell.x1, cell.text)]
            groups[-1].extend(Column(p.x0, p.x1, p.text, labelled=True) for p in pieces)
        return [g for g in groups if g]
    if cells and re.fullmatch(r"units?|unidades?|einheit|unidad", cells[-1].text.strip(), re.IGNORECASE):
        cells = cells[:-1]  # a last 'UNITS' column names no model
    if len(cells) >= 3 and TITLE_HEADER.match(fold(cells[0].text)) and all(_is_model_cell(c.text) for c in cells[1:]):
        return [[Column(c.x0, c.x1, c.text, labelled=True) for c in cells[1:]]]
    if len(cells) >= 2 and all(_is_model_cell(c.text) for c in cells):
        return [[Column(c.x0, c.x1, c.text) for c in cells]]
    return []


def _headers(lines: list[Line], parsed: list[list[Row]], family: str) -> dict[int, Table]:
    """Header tables by line index; on a page with a labelled header ('Model', 'Type designation'), rows of
    model-like codes that are not labelled (captions, accessory part numbers) are not headers."""
    found: dict[int, Table] = {}
    for index, line in enumerate(lines):
        groups = _header(joined(line, parsed[index]))
        caption = f"{_caption(lines, index)} {line.text}"
        tables = []
        for columns in groups:
            table = Table(line.page, line.y, columns)
            if len(columns) == 1 and family == "module":
                table.series_header = columns[0].name
            table.stc = not (NON_STC.search(caption) and not STC.search(caption))
            tables.append(table)
        if tables:
            found[index] = tables[0]
            tables[0].beside = tables[1:]
    labelled_pages = {t.page for t in found.values() if t.columns[0].labelled}
    found = {i: t for i, t in found.items() if t.columns[0].labelled or t.page not in labelled_pages}
    if family != "module":
        pages_with_headers = {t.page for t in found.values()}
        for index, table in _model_list_tables(lines, parsed).items():
            if table.page not in pages_with_headers:
                found[index] = table
    return found


_MODEL_LIST = re.compile(
    r"^(?:\S+\s)?([A-Z0-9][A-Z0-9.\-]{1,15}(?:\s?/\s?[A-Z0-9][A-Z0-9.\-]{1,15}){1,15})(?:\(\d\))?$"
)


def _model_list_tables(lines: list[Line], parsed: list[list[Row]]) -> dict[int, Table]:
    """A page with no model header but a title listing its models ('3.3KTL-X/4.4KTL-X/.../12KTL-X'): the first
    row below with one value per listed model gives the columns' positions."""
    found: dict[int, Table] = {}
    for index, line in enumerate(lines):
        for cell in line.cells:
            match = _MODEL_LIST.match(cell.text.strip())
            if not match:
                continue
            names = [n.strip() for n in match.group(1).split("/")]
            if not all(_is_model_cell(n) or re.search(r"\d.*[A-Z]{2}", n) for n in names):
                continue
            for later, segments in zip(lines[index + 1 :], parsed[index + 1 :], strict=True):
                if later.page != line.page:
                    break
                tokens = sorted((t for seg in segments for t in seg.tokens), key=lambda t: t.x0)
                if len(tokens) == len(names):
                    columns = [Column(t.x0, t.x1, n, labelled=True) for t, n in zip(tokens, names, strict=True)]
                    found[index] = Table(line.page, line.y, columns)
                    break
            if index in found:
                break
    return found


def _subheader(line: Line) -> list[tuple[float, bool]] | None:
    """'STC NOCT STC NOCT ...' -> [(x centre, is STC), ...]."""
    words = [w for w in line.words if w.text.strip()]
    labels = [w for w in words if w.text.strip().upper() in ("STC", "NOCT", "NMOT")]
    if len(labels) >= 2 and any(w.text.strip().upper() == "STC" for w in labels) and len(labels) >= len(words) - 3:
        return [((w.x0 + w.x1) / 2, w.text.strip().upper() == "STC") for w in labels]
    return None


def assign(columns: list[Column], tokens: list[Token], ways: int = 1, pick: int = 0) -> list[tuple[list[int], Token]]:
    """Which columns each token belongs to, by position; [] when the row does not fit the header.

    n tokens for n columns map one to one; ways*n tokens are side-by-side conditions (the `pick`th is kept);
    fewer tokens are merged cells, each centred over a run of adjacent columns (found by dynamic programming
    over contiguous partitions, accepted when every token sits within half a column spacing of its run's centre).
    """
    n, k = len(columns), len(tokens)
    tokens = sorted(tokens, key=lambda t: t.x0)
    if n == 0 or k == 0:
        return []
    if ways > 1 and k == ways * n:
        return [([i], tokens[i * ways + pick]) for i in range(n)]
    if k == n:
        return [([i], t) for i, t in enumerate(tokens)]
    if k > n:
        return []
    centres = [c.xc for c in columns]
    spacing = median(b - a for a, b in pairwise(centres)) if n > 1 else 1e9
    if k == 1:
        nearest = min(range(n), key=lambda i: abs(centres[i] - tokens[0].xc))
        whole = abs((centres[0] + centres[-1]) / 2 - tokens[0].xc)
        if n >= 3 and abs(centres[nearest] - tokens[0].xc) < 0.25 * spacing < whole:
            return [([nearest], tokens[0])]
        return [(list(range(n)), tokens[0])]
    inf = float("inf")
    # cost[j][i]: best cost of placing the first j tokens over the first i columns
    cost = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    cost[0][0] = 0.0
    for j in range(1, k + 1):
        for i in range(j, n - (k - j) + 1):
            for start in range(j - 1, i):
                if cost[j - 1][start] == inf:
                    continue
                centre = (centres[start] + centres[i - 1]) / 2
                step = max(cost[j - 1][start], abs(tokens[j - 1].xc - centre))
                if step < cost[j][i]:
                    cost[j][i], back[j][i] = step, start
    if cost[k][n] > 0.5 * spacing:
        return []
    groups: list[tuple[list[int], Token]] = []
    i = n
    for j in range(k, 0, -1):
        start = back[j][i]
        groups.append((list(range(start, i)), tokens[j - 1]))
        i = start
    return groups[::-1]


# --------------------------------------------------------------------------------------------------------------
# Reading the rows


def _labels_for(family: str) -> list[tuple[str, str, frozenset | None]]:
    if family == "module":
        return [(name, pattern, None) for name, pattern in MODULE_LABELS]
    return INVERTER_LABELS if family == "inverter" else BATTERY_LABELS


def _fields_of(row: Row, family: str, section: str | None) -> list[tuple[str, int, int]]:
    """(field, label part, parts) candidates for a row, the label's rightmost matching cell first (a symbol
    column 'VOC' or the label itself), each field's pattern tried in lexicon order."""
    found: list[tuple[str, int, int]] = []
    texts = [c.text for c in reversed(row.labels)] + [row.label]
    for text in texts:
        parts = split_parts(text)
        for index, part in enumerate(parts):
            key = fold(part)
            if not key:
                continue
            for name, pattern, sections in _labels_for(family):
                if sections is not None and section not in sections:
                    continue
                if re.search(pattern, key) and (name, index, len(parts)) not in found:
                    found.append((name, index, len(parts)))
    return found


def _read(name: str, text: str, unit: str | None, continuation: str) -> dict[str, float | int]:
    """Field values in one token (a range or a dimension triple gives two or three fields)."""
    if name == "dimensions":
        dims = parse_module_dimensions(text) or parse_module_dimensions(f"{text} {continuation}")
        return dict(zip(("length_mm", "width_mm", "thickness_mm"), dims, strict=True)) if dims else {}
    if name in ("mppt_range", "max_dc_voltage_range"):
        bounds = parse_range(text if unit != "v" or re.search(r"v", text, re.I) else f"{text} V")
        if not bounds or not 20 <= bounds[0] < bounds[1] <= 2000:
            return {}
        return (
            {"mppt_min_v": bounds[0], "mppt_max_v": bounds[1]}
            if name == "mppt_range"
            else {"max_dc_voltage_v": bounds[1]}
        )
    for match in re.finditer(rf"(?<![\d.,]){NUM}", text):  # '@240V 12000W': the first number that fits
        value = parse_value(name, text[match.start() :], unit)
        if value is not None:
            return {name: value}
    if name == "weight_kg" and continuation:
        value = parse_value(name, continuation, unit)
        return {} if value is None else {name: value}
    return {}


def _continuation(lines: list[Line], index: int, x0: float) -> str:
    """The next line's text when it only continues a value column ('(1879 mm x 1045 mm x 32 mm)')."""
    if index + 1 < len(lines):
        nxt, line = lines[index + 1], lines[index]
        if nxt.page == line.page and 0 < nxt.y - line.y < 2.2 * line.size and nxt.cells[0].x0 >= x0 - 5:
            return nxt.text
    return ""


def _caption(lines: list[Line], index: int) -> str:
    """Text just above a header (up to three lines within a few line heights): where the condition is named."""
    line = lines[index]
    above = [
        lines[i].text
        for i in range(max(0, index - 3), index)
        if lines[i].page == line.page and line.y - lines[i].y < 45
    ]
    return " ".join(above)


def _alternating(values: list[float]) -> int | None:
    """For 2n Pmax values printed as (STC, NOCT) pairs without a sub-header: the index of the larger one in each
    pair (STC power is 1.3-1.4 times NMOT), or None when the row is not pairs."""
    if len(values) < 4 or len(values) % 2:
        return None
    pairs = list(zip(values[::2], values[1::2], strict=True))
    if all(1.15 < a / b < 1.6 for a, b in pairs if b):
        return 0
    if all(1.15 < b / a < 1.6 for a, b in pairs if a):
        return 1
    return None


@dataclass
class SheetTables:
    tables: list[Table]
    sheet: Table  # the single column of label/value rows that sit under no header


def read_tables(lines: list[Line], family: str) -> SheetTables:
    tables: list[Table] = []
    sheet = Table(0, 0.0, [Column(0, 1e9, "")])
    current: Table | None = None
    section: str | None = None
    pending_sub: tuple[int, list[tuple[float, bool]]] | None = None
    transposed, used = _transposed_tables(lines, family)
    tables.extend(transposed)
    parsed = [parse_rows(line) for line in lines]  # each line's label/value segments, read once
    headers = _headers(lines, parsed, family)
    tables.extend(t for primary in headers.values() for t in (primary, *primary.beside))
    stacked = _stacked_values(lines)
    for index, line in enumerate(lines):
        if index in used:
            continue
        segments = parsed[index]
        if index in stacked and segments:
            last = segments[-1]
            extra = [(y, t) for y, t in stacked[index] if t.x0 > last.labels[-1].x1]
            segments = [*segments[:-1], Row(last.line, last.labels, _unstack(last.tokens, extra), last.unit)]
        row = joined(line, segments)
        if current is not None and current.page != line.page:
            current = None
            section = None
        if index in headers:
            current = headers[index]
            continue
        owner = current
        if owner is None:
            # A row above a page's first labelled header, with one value per model or one for all, belongs to it
            # (the 'Type designation' row printed at the foot of the table, as SMA does).
            below = [t for i, t in headers.items() if i > index and t.page == line.page and t.columns[0].labelled]
            if below and len(row.tokens) in (1, len(below[0].columns)):
                owner = below[0]
        sub = _subheader(line)
        if sub:
            pending_sub = (index, sub)
            if current is not None and current.ways == 1 and len(sub) > len(current.columns):
                ways = len(sub) // len(current.columns)
                if ways * len(current.columns) == len(sub):
                    current.ways = ways
                    current.pick = next(i for i, (_, stc) in enumerate(sub) if stc)
            continue
        if not row.tokens:
            key = fold(row.label)
            for name, pattern in SECTIONS:
                if re.match(pattern, key):
                    section = name
                    break
            if family == "module" and current is not None and NON_STC.search(line.text) and not STC.search(line.text):
                current.stc = False
            continue
        for segment in segments:
            if not segment.tokens:
                continue
            candidates = _fields_of(segment, family, section) or _wrapped_label(
                lines, parsed, index, segment, family, section
            )
            if not candidates:
                continue
            # A module's Pmax row with several values and no header above it (or under a merged series header)
            # names the power classes itself.
            names_classes = current is None or current.implicit or current.series_header
            if family == "module" and candidates[0][0] == "pmax_w" and names_classes and len(segment.tokens) >= 2:
                implicit = _implicit_table(segment, lines, index, pending_sub, current)
                if implicit is not None:
                    current = implicit
                    tables.append(current)
            table = current or owner or sheet
            if table.beside:  # two tables side by side: the one under this segment's values
                table = next((t for t in (table, *table.beside) if t.spans(segment.tokens[0])), table)
            if not table.stc:
                # Past the STC values: mechanical and temperature rows still describe every model of the sheet.
                candidates = [c for c in candidates if c[0] not in MODULE_ELECTRICAL]
                table = sheet
            _read_row(table, segment, candidates, family, lines, index)
    return SheetTables(tables, sheet)


def _stacked_values(lines: list[Line]) -> dict[int, list[tuple[float, Token]]]:
    """Value lines with no label of their own, printed just above or below a labelled row: a cell holding two
    lines ('3800 @ 240V' over '3300 @ 208V', the label centred between them). Keyed by the labelled row's index;
    each token carries its line's y so the upper line can win."""
    attached: dict[int, list[tuple[float, Token]]] = {}
    for index, line in enumerate(lines):
        if not line.cells or not all(VALUE_START.match(c.text) for c in line.cells):
            continue
        near = [
            i
            for i in (index - 2, index - 1, index + 1, index + 2)
            if 0 <= i < len(lines)
            and lines[i].page == line.page
            and abs(lines[i].y - line.y) <= 0.9 * line.size
            and lines[i].cells
            and not VALUE_START.match(lines[i].cells[0].text)
        ]
        if near:
            owner = min(near, key=lambda i: abs(lines[i].y - line.y))
            tokens = [t for cell in line.cells for t in _cell_tokens(cell)]
            attached.setdefault(owner, []).extend((line.y, t) for t in tokens)
    return attached


def _unstack(own: list[Token], extra: list[tuple[float, Token]]) -> list[Token]:
    """The row's tokens with the stacked ones merged in: where two overlap in x (one cell of two lines), the
    upper line's value is the cell's first value and wins."""
    tokens = [(1e9, t) for t in own]  # the label's own line sits between the stacked lines
    for y, token in sorted(extra, key=lambda e: e[0]):
        overlapping = [i for i, (_, t) in enumerate(tokens) if t.x0 < token.x1 and token.x0 < t.x1]
        if not overlapping:
            tokens.append((y, token))
        elif all(y < tokens[i][0] for i in overlapping):
            for i in sorted(overlapping, reverse=True):
                tokens.pop(i)
            tokens.append((y, token))
    return [t for _, t in sorted(tokens, key=lambda e: e[1].x0)]


def _transposed_tables(lines: list[Line], family: str) -> tuple[list[Table], set[int]]:
    """Tables with models as rows: a header line naming three or more fields ('Model | Pmax (W) | Vmp (V) |
    Imp (A) | ...'), then one line per model whose values sit under those headers."""
    tables: list[Table] = []
    used: set[int] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        fields = []
        for cell in line.cells:
            found = _fields_of(Row(line, [cell], [], None), family, None)
            if found:
                fields.append((cell.xc, found[0][0], unit_in(cell.text)))
        if len({name for _, name, _ in fields}) < 3 or len({name for _, name, _ in fields}) != len(fields):
            index += 1
            continue
        table = Table(line.page, line.y, [])
        below = index + 1
        while below < len(lines) and lines[below].page == line.page:
            cells = lines[below].cells
            if (
                not cells
                or VALUE_START.match(cells[0].text)
                or _fields_of(Row(lines[below], [cells[0]], [], None), family, None)
            ):
                break
            tokens = [t for cell in cells[1:] for t in _cell_tokens(cell)]
            if len(tokens) < len(fields) - 1:
                break
            column = len(table.columns)
            table.columns.append(Column(cells[0].x0, cells[0].x1, cells[0].text, labelled=True))
            for token in tokens:
                _, name, unit = min(fields, key=lambda f: abs(f[0] - token.xc))
                got = _read(name, token.text, unit, "")
                if got:
                    _store(table, column, got, line.page, name, family)
            used.add(below)
            below += 1
        if table.columns:
            used.add(index)
            tables.append(table)
        index = below
    return tables, used


def _wrapped_label(
    lines: list[Line], parsed: list[list[Row]], index: int, segment: Row, family: str, section: str | None
) -> list[tuple[str, int, int]]:
    """A label printed over two lines ('Module' over 'Dimensions', value beside the first): the row's label joined
    with the label cell just below or above it, at the same x."""
    first = segment.labels[0]
    for other in (index + 1, index - 1):
        if not 0 <= other < len(lines) or lines[other].page != lines[index].page:
            continue
        neighbour = lines[other]
        if abs(neighbour.y - lines[index].y) > 1.6 * lines[index].size:
            continue
        cell = next((c for c in neighbour.cells if abs(c.x0 - first.x0) < 3 and not VALUE_START.match(c.text)), None)
        if cell is None or _reads_on_its_own(parsed[other], family, section):
            continue
        text = f"{first.text} {cell.text}" if other > index else f"{cell.text} {first.text}"
        joined = Row(segment.line, [Cell(first.x0, first.x1, text)], segment.tokens, segment.unit)
        found = _fields_of(joined, family, section)
        if found:
            return found
    return []


def _reads_on_its_own(segments: list[Row], family: str, section: str | None) -> bool:
    """Whether a line is a complete row of its own: a label that matches and a value that reads for it."""
    for segment in segments:
        for name, _, _ in _fields_of(segment, family, section):
            if any(_read(name, t.text, segment.unit, "") for t in segment.tokens):
                return True
    return False


def _implicit_table(
    row: Row, lines: list[Line], index: int, pending_sub: tuple[int, list[tuple[float, bool]]] | None, current
) -> Table | None:
    """Columns from a Pmax row: one per STC value, spanning its NOCT neighbour when they are printed in pairs."""
    if current is not None and current.implicit and current.stc and "pmax_w" not in current.seen:
        return None
    values = [parse_number(t.text) for t in row.tokens]
    if any(v is None for v in values):
        return None
    tokens = sorted(row.tokens, key=lambda t: t.x0)
    ways, pick = 1, 0
    sub = pending_sub[1] if pending_sub and index - pending_sub[0] <= 2 else None
    if sub and len(sub) == len(tokens) and len(sub) % sum(stc for _, stc in sub) == 0:
        ways = len(sub) // sum(stc for _, stc in sub)
        pick = next(i for i, (_, stc) in enumerate(sub) if stc)
    elif (alternating := _alternating([v for v in values if v is not None])) is not None:
        ways, pick = 2, alternating
    if len(tokens) % ways:
        return None
    columns = []
    for i in range(0, len(tokens), ways):
        group = tokens[i : i + ways]
        power = parse_number(group[pick].text)
        columns.append(Column(group[0].x0, group[-1].x1, f"{power:g}"))
    caption = _caption(lines, index)
    table = Table(row.line.page, row.line.y, columns, implicit=True, ways=ways, pick=pick)
    if current is not None and current.series_header:
        table.series_header = current.series_header
        table.stc = current.stc
    else:
        table.stc = not (NON_STC.search(caption) and not STC.search(caption))
    if current is not None and current.implicit and not current.stc:
        table.stc = False
    return table


def _read_row(
    table: Table, row: Row, candidates: list[tuple[str, int, int]], family: str, lines: list[Line], index: int
) -> None:
    for name, part, parts in candidates:
        tokens = row.tokens
        if parts > 1:
            pieces = [split_parts(t.text) for t in tokens]
            if not all(len(p) == parts for p in pieces):
                continue
            tokens = [Token(t.x0, t.x1, p[part]) for t, p in zip(tokens, pieces, strict=True)]
        continuation = _continuation(lines, index, tokens[0].x0)
        if table.columns[0].x1 >= 1e9:  # the sheet's single column: the first token that reads as the field
            for token in tokens:
                got = _read(name, token.text, row.unit, continuation)
                if got:
                    _store(table, 0, got, row.line.page, name, family)
                    return
            continue
        groups = _one_per_column(table.columns, tokens) or assign(table.columns, tokens, table.ways, table.pick)
        if not groups:
            readable = [t for t in tokens if _read(name, t.text, row.unit, continuation)]
            groups = assign(table.columns, readable, table.ways, table.pick) if readable else []
        readings = [(cols, _read(name, token.text, row.unit, continuation)) for cols, token in groups]
        if not any(got for _, got in readings):
            continue
        if family == "module" and name in MODULE_ELECTRICAL and name in table.seen:
            table.stc = False  # the same label again: the next condition's table
            return
        for cols, got in readings:
            for col in cols:
                _store(table, col, got, row.line.page, name, family)
        table.seen.add(name)
        return


_SLASH_LIST = re.compile(rf"^{NUM}(?:\s*/\s*{NUM})+\s*[A-Za-z%]*$")


def _one_per_column(columns: list[Column], tokens: list[Token]) -> list[tuple[list[int], Token]]:
    """One cell listing a value per model, 'Rated output power | 3000/3600/4200/5000 W' under four models."""
    if len(tokens) != 1 or len(columns) < 2 or not _SLASH_LIST.match(tokens[0].text.strip()):
        return []
    text = tokens[0].text.strip()
    unit = re.search(r"[A-Za-z%]+$", text)
    numbers = [n.strip() for n in text[: unit.start() if unit else len(text)].split("/")]
    if len(numbers) != len(columns):
        return []
    suffix = f" {unit.group(0)}" if unit else ""
    return [([i], Token(c.x0, c.x1, f"{n}{suffix}")) for i, (c, n) in enumerate(zip(columns, numbers, strict=True))]


def _store(table: Table, col: int, got: dict[str, float | int], page: int, name: str, family: str) -> None:
    target = table.values.setdefault(col, {})
    for fname, value in got.items():
        target.setdefault(fname, (value, page))
