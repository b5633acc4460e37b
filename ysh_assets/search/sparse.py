"""Lexical sparse vectors: BM25 term weights for documents, Qdrant's IDF modifier for the rarity of each term.

Exact model numbers must win over meaning ('SUN2000-75K' is one product, not 'an inverter'), so a model code is
kept whole as one term, besides its parts and its spelling without separators. Accents are folded and case is
ignored; a power is also written in watts ('5 kW' and '5000W' share the term '5000w'); a few domain words carry a
language-neutral concept term ('inversor' and 'inverter' both add 'c:inverter'), so a Portuguese query finds an
English title. Term ids are a stable hash, so the vocabulary needs no storage.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

from qdrant_client import models

BM25_K1 = 1.2
BM25_B = 0.75
AVERAGE_DOCUMENT_TERMS = 40.0  # a product title with its specs; fixed, so an incremental run needs no corpus pass

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,/\-+][a-z0-9]+)*\+?")
_POWER = re.compile(r"^(\d+(?:[.,]\d+)?)(k?wp?)$")
_STOPWORDS = frozenset(
    (
        "a",
        "o",
        "as",
        "os",
        "de",
        "da",
        "do",
        "das",
        "dos",
        "e",
        "em",
        "para",
        "com",
        "sem",
        "por",
        "um",
        "uma",
        "no",
        "na",
        "nos",
        "nas",
        "the",
        "of",
        "for",
        "and",
        "with",
        "to",
        "in",
        "on",
    )
)
# Domain words in Portuguese, Spanish and English -> one concept term each.
_CONCEPTS = {
    "inverter": "inverter inversor inversores inverters inversora",
    "microinverter": "microinversor microinversores microinverter microinverters micro",
    "module": "painel paineis placa placas modulo modulos module modules panel panels fotovoltaico",
    "battery": "bateria baterias battery batteries acumulador storage armazenamento",
    "hybrid": "hibrido hibrida hibridos hybrid",
    "single_phase": "monofasico monofasica monofasicos single-phase monophase 1f",
    "three_phase": "trifasico trifasica trifasicos three-phase triphase 3f",
    "bifacial": "bifacial bifaciais",
    "kit": "kit kits gerador geradores sistema",
    "on_grid": "on-grid ongrid grid-tie",
    "off_grid": "off-grid offgrid isolado",
    "structure": "estrutura estruturas suporte structure mounting telhado roof",
    "lithium": "litio lithium lifepo4 lfp",
    "datasheet": "datasheet datasheets ficha especificacao especificacoes spec specs",
}
CONCEPT_OF = {word: f"c:{concept}" for concept, words in _CONCEPTS.items() for word in words.split()}


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(text: str) -> list[str]:
    """'Inversor Híbrido SUN-5K-SG03LP1 5 kW' -> ['inversor', 'c:inverter', 'hibrido', 'c:hybrid',
    'sun-5k-sg03lp1', 'sun', '5k', 'sg03lp1', 'sun5ksg03lp1', '5kw', '5000w']."""
    folded = fold(text)
    # '5 kW' -> '5kw', '580 Wp' -> '580wp': a number and its power unit are one term
    folded = re.sub(r"(\d)\s+(k?wp?)\b", r"\1\2", folded)
    out: list[str] = []
    for token in _TOKEN.findall(folded):
        if token in _STOPWORDS:
            continue
        out.append(token)
        if token in CONCEPT_OF:
            out.append(CONCEPT_OF[token])
        parts = [p for p in re.split(r"[.,/\-+]", token) if p]
        if len(parts) > 1 and re.search(r"\d", token):  # a model code: its parts and its unseparated spelling
            out.extend(p for p in parts if p not in _STOPWORDS)
            out.append("".join(parts))
        for part in parts:  # 'gw6000' also says '6000', 'sun2000g3' also 'sun' and '2000'
            pieces = re.findall(r"[a-z]+|\d+", part)
            if len(pieces) > 1:
                out.extend(p for p in pieces if len(p) > 1 and p not in _STOPWORDS)
        power = _POWER.match(token)
        if power:
            watts = float(power.group(1).replace(",", ".")) * (1000 if power.group(2).startswith("k") else 1)
            out.append(f"{watts:g}w")
    return out


def term_id(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def document_vector(text: str) -> models.SparseVector:
    """BM25 term frequency saturation with document length normalization; IDF comes from Qdrant."""
    counts = Counter(terms(text))
    length = sum(counts.values()) or 1
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / AVERAGE_DOCUMENT_TERMS)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        index = term_id(term)
        weights[index] = weights.get(index, 0.0) + tf * (BM25_K1 + 1) / (tf + norm)
    return models.SparseVector(indices=list(weights), values=[round(w, 6) for w in weights.values()])


def query_vector(text: str) -> models.SparseVector:
    """Each distinct query term once; a model code (letters and digits) counts double, so it outweighs words."""
    weights: dict[int, float] = {}
    for term in dict.fromkeys(terms(text)):
        boost = 2.0 if re.search(r"[a-z]", term) and re.search(r"\d", term) and not term.startswith("c:") else 1.0
        weights[term_id(term)] = max(weights.get(term_id(term), 0.0), boost)
    return models.SparseVector(indices=list(weights), values=list(weights.values()))


def is_model_code(token: str) -> bool:
    """Letters and digits together, as model numbers are ('JKM550M-72HL4', 'SUN2000-75K', 'HVS 5.1' is not)."""
    return bool(re.search(r"[A-Za-z]", token) and re.search(r"\d", token) and len(token) >= 5)


_QUERY_POWER = re.compile(r"(\d+(?:[.,]\d+)?)\s*(kwp|kw|wp|w)\b")


def query_power(text: str) -> float | None:
    """The power a query asks for, in watts ('5 kW', '580W', '4 kWp'), or None."""
    match = _QUERY_POWER.search(fold(text))
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    return value * 1000 if match.group(2).startswith("k") else value


def has_model_code(text: str) -> bool:
    return any(is_model_code(token) for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9.\-/+]*", text))
