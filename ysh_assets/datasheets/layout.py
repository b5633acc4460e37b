"""Positioned words and lines of a datasheet page, from a PDF text layer or from OCR, in one shape.

Text layers are unreliable in reading order (labels come out far from their values, STC and NOCT columns
interleave), so reading order is ignored: words are rebuilt from pypdfium2's per-character boxes and grouped
into lines by baseline and into cells by visible gaps. The table reader sees only this geometry, so a page read
by Tesseract goes through the same reader as a page with a text layer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# A page's text layer is usable when it carries enough real words: an outlined or scanned sheet can still hold a
# few stray text objects (the SOFAR reference has about 270 characters of labels over two pages), and a layer of
# unmapped glyphs holds characters but no words.
MIN_WORDS_PER_PAGE = 40
MIN_ALNUM_PER_PAGE = 300

_FOOTNOTE_MARKS = str.maketrans({c: "" for c in "¹²³⁴⁵⁶⁷⁸⁹⁰†‡\ufffe\u00ad"})
_SPACES = re.compile(r"[\s\u2009\u00a0\u202f]+")


@dataclass(frozen=True)
class Word:
    x0: float
    x1: float
    top: float
    bottom: float
    text: str
    size: float  # font size (or glyph height for OCR), points

    @property
    def yc(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass
class Span:
    """A horizontal extent on the page: cells, value tokens and table columns are placed by it."""

    x0: float
    x1: float

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class Cell(Span):
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Line:
    page: int
    y: float
    size: float
    words: list[Word]
    cells: list[Cell] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)


def clean_text(text: str) -> str:
    """NFKC (full-width forms, ligatures 'ﬁ'), no footnote marks, single spaces."""
    text = unicodedata.normalize("NFKC", text.translate(_FOOTNOTE_MARKS))
    text = text.replace("ぎ", "°C")  # a CJK font subset maps the degree-Celsius glyph here (Trina)
    return _SPACES.sub(" ", text).strip()


def _page_words(page: pdfium.PdfPage) -> list[Word]:
    """Words from character boxes: a space, a line break or a gap wider than a third of the font size ends one."""
    textpage = page.get_textpage()
    height = page.get_height()
    words: list[Word] = []
    chars: list[tuple[str, float, float, float, float, float]] = []

    def flush() -> None:
        if chars:
            text = "".join(c[0] for c in chars)
            x0 = min(c[1] for c in chars)
            x1 = max(c[2] for c in chars)
            top = min(c[3] for c in chars)
            bottom = max(c[4] for c in chars)
            size = max(c[5] for c in chars) or (bottom - top) / 0.72
            words.append(Word(x0, x1, top, bottom, text, size))
            chars.clear()

    try:
        for index in range(textpage.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
            char = chr(code) if code else ""
            if not char or char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
                flush()
                continue
            left, bottom, right, top = textpage.get_charbox(index, loose=False)
            row_top, row_bottom = height - top, height - bottom
            # Glyph heights, not the font size pdfium reports (1.0 on sheets that scale text by matrix).
            size = (row_bottom - row_top) / 0.72 if char.isalnum() else 0.0
            if chars:
                prev = chars[-1]
                scale = max(size, prev[5], 1.0)
                gap = left - prev[2]
                apart = row_top > prev[4] + 0.15 * scale or row_bottom < prev[3] - 0.15 * scale
                if gap > 0.33 * scale or gap < -0.5 * scale or apart:
                    flush()
            chars.append((char, left, right, row_top, row_bottom, size))
        flush()
    finally:
        textpage.close()
    return words


def lines_from_words(words: Iterable[Word], page_no: int) -> list[Line]:
    """Group words into lines by vertical centre, then into cells by gaps wider than about two spaces."""
    ordered = sorted((w for w in words if clean_text(w.text)), key=lambda w: w.yc)
    clusters: list[list[Word]] = []
    for word in ordered:
        if clusters:
            current = clusters[-1]
            centre = median(w.yc for w in current)
            tolerance = min(max(0.4 * median(w.size for w in current), 1.5), 4.0)
            if abs(word.yc - centre) <= tolerance:
                current.append(word)
                continue
        clusters.append([word])
    lines = []
    for cluster in clusters:
        cluster.sort(key=lambda w: w.x0)
        size = median(w.size for w in cluster)
        cells: list[Cell] = []
        for word in cluster:
            text = clean_text(word.text)
            if cells and word.x0 - cells[-1].x1 <= 0.6 * size:
                cells[-1].text += " " + text
                cells[-1].x1 = max(cells[-1].x1, word.x1)
                cells[-1].words.append(word)
            else:
                cells.append(Cell(word.x0, word.x1, text, [word]))
        lines.append(Line(page_no, median(w.yc for w in cluster), size, cluster, cells))
    return lines


def pdf_lines(page: pdfium.PdfPage, page_no: int) -> list[Line]:
    return lines_from_words(_page_words(page), page_no)


def usable_text(text: str) -> bool:
    """Whether a page's text layer can be read: enough letters and digits, and enough of them in real words
    (three or more letters in a row), so outlined glyphs with a few stray labels count as unusable."""
    alnum = sum(ch.isalnum() for ch in text)
    words = re.findall(r"[^\W\d_]{3,}", text)
    return alnum >= MIN_ALNUM_PER_PAGE and len(words) >= MIN_WORDS_PER_PAGE
