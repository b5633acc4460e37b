"""Optional LLM enrichment of rule-extracted datasheet specs through a local Ollama server.

The rules stay authoritative: the model may only fill fields the rules left empty. When it disagrees with a
rules value, both are kept (the rules value in the field, the model's under the record's `conflicts`) so a
person can review. Ollama being down, slow, missing the model or answering nonsense degrades to the
rules-only records with a status and a readable detail; `enrich` never raises for those.

Records have the shape of the rule extractor's JSON specs (`Extraction.to_json()["specs"]`): `model`,
`manufacturer`, `equipment_type` as plain values and `fields`: name -> `{"value", "unit", "page", "source"}`.
Numeric fields given at the top level, or as bare values, are accepted too. After a successful call every
record also carries `llm_filled` (names the model filled) and `conflicts` (name -> the model's differing
value, source "llm").
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import ollama
from pydantic import Field

from ysh_assets.datasheets.extract import EQUIPMENT_TYPES, SPEC_FIELDS
from ysh_assets.ops.quotas import GuardedResource, SourceUnavailable
from ysh_assets.settings import DEFAULTS

IDENTITY_FIELDS = ("manufacturer", "model", "equipment_type")
NUMERIC_FIELDS = SPEC_FIELDS  # field -> unit: the same record shape as the rule extractor's
SPEC_FIELD_NAMES = (*IDENTITY_FIELDS, *NUMERIC_FIELDS)

# Where each value was read: the page number of every numeric field the model fills (null when it fills none).
PAGES_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": ["integer", "null"]} for name in NUMERIC_FIELDS},
    "required": list(NUMERIC_FIELDS),
    "additionalProperties": False,
}
SPEC_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "manufacturer": {"type": ["string", "null"]},
        "model": {"type": ["string", "null"]},
        "equipment_type": {"enum": [*EQUIPMENT_TYPES, None]},
        **{name: {"type": ["number", "null"]} for name in NUMERIC_FIELDS},
        "pages": PAGES_JSON_SCHEMA,
    },
    # Every key required (null when unknown): small models follow a closed shape far more reliably.
    "required": [*SPEC_FIELD_NAMES, "pages"],
    "additionalProperties": False,
}
# One datasheet often covers a series (five power classes of a module): one record per model.
DOCUMENT_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"records": {"type": "array", "items": SPEC_JSON_SCHEMA}},
    "required": ["records"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = """You read solar equipment datasheets and return their technical specifications as JSON.
Return one record per model or power class in the datasheet, matching this JSON schema:
{schema}
Rules:
- Use null when the datasheet does not state a value. Never guess or compute values.
- Numbers are plain numbers in the unit named by the field suffix: _w watts, _v volts, _a amperes,
  _pct percent, _mm millimetres, _kg kilograms, _kwh kilowatt-hours; temp_coeff_* in %/°C (negative when
  the sheet says so); mppt_count and phases are counts. Use STC values for modules.
- manufacturer: the company's usual brand name (e.g. "JinkoSolar", "SMA", "BYD"); model: the model
  designation exactly as printed, without marketing words.
- pages: for every number you give, the page ("--- page N ---") it is printed on; null for fields left null.
- Values already found by rules are given; keep them unless the text clearly shows otherwise."""

Status = Literal["ok", "unavailable", "error"]
OLLAMA_SOURCE = "ollama"  # its quota and breaker (ysh_assets.ops.quotas)
# What counts against the breaker: the server unreachable or failing; a reply we reject is not its outage.
OLLAMA_FAILURES = (ConnectionError, httpx.HTTPError, ollama.ResponseError)


class OllamaResource(GuardedResource):
    """Where the Ollama server is and which model to ask. Enrichment is optional: failures degrade, never raise.
    Its requests count against the `ollama` quota, and its breaker, once open, skips the server (rules-only)."""

    base_url: str = Field(default=DEFAULTS["YSH_OLLAMA_URL"], description="Ollama base URL (YSH_OLLAMA_URL).")
    model: str = Field(
        default=DEFAULTS["YSH_OLLAMA_MODEL"], description="Chat model, pulled on the server (YSH_OLLAMA_MODEL)."
    )
    timeout_seconds: float = Field(default=60.0, description="Per-request connect/read timeout.")
    max_text_chars: int = Field(default=12_000, description="Datasheet text budget in the prompt.")
    num_ctx: int = Field(default=8192, description="Context window requested from Ollama (its default is small).")

    def client(self) -> ollama.Client:
        hooks = self.guard(OLLAMA_SOURCE).httpx_hooks()
        return ollama.Client(host=self.base_url, timeout=self.timeout_seconds, event_hooks=hooks)

    def display_url(self) -> str:
        """The base URL without any user:password part, safe for logs and asset metadata."""
        try:
            parts = urlsplit(self.base_url)
            host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
        except ValueError:
            return "<invalid YSH_OLLAMA_URL>"
        return urlunsplit(parts._replace(netloc=netloc))


@dataclasses.dataclass(frozen=True)
class EnrichmentResult:
    """`filled`/`conflicts` list (record index, field) pairs; `records` are rules-only unless status is ok."""

    status: Status
    detail: str
    records: list[dict[str, Any]]
    filled: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    conflicts: list[tuple[int, str]] = dataclasses.field(default_factory=list)


class ReplyError(ValueError):
    """The model's reply is not JSON matching DOCUMENT_JSON_SCHEMA."""


def health(resource: OllamaResource) -> tuple[bool, str]:
    """Cheap readiness probe: is the server up and the model pulled (GET /api/tags)?"""
    url = resource.display_url()
    try:
        with resource.client() as client:
            listing = client.list()
    except (ConnectionError, httpx.HTTPError) as error:
        return False, f"ollama unreachable at {url}: {_transport_reason(error)}"
    except ollama.ResponseError as error:
        return False, f"ollama at {url} answered {error.status_code}: {error.error}"
    except (ValueError, httpx.InvalidURL) as error:
        return False, f"ollama call to {url} failed: {error}"
    names = [m.model for m in listing.models if m.model]
    if _canonical_model(resource.model) in {_canonical_model(n) for n in names}:
        return True, f"model {resource.model} available at {url}"
    return False, f"model {resource.model} not pulled at {url} (available: {', '.join(names) or 'none'})"


def enrich(resource: OllamaResource, text: str, rules: list[dict[str, Any]]) -> EnrichmentResult:
    """Ask the model once for the whole document and merge its records into the rules' records."""
    base = [_normalize_record(r) for r in rules]
    url = resource.display_url()
    try:
        with resource.guard(OLLAMA_SOURCE).call(OLLAMA_FAILURES), resource.client() as client:
            response = client.chat(
                model=resource.model,
                messages=build_messages(text, base, max_chars=resource.max_text_chars),
                stream=False,
                format=DOCUMENT_JSON_SCHEMA,
                options={"temperature": 0, "num_ctx": resource.num_ctx},
            )
    except SourceUnavailable as skipped:  # quota spent or breaker open: not called at all
        return EnrichmentResult("unavailable", f"ollama at {url} not called: {skipped.reason}", base)
    except (ConnectionError, httpx.HTTPError) as error:
        return EnrichmentResult("unavailable", f"ollama unreachable at {url}: {_transport_reason(error)}", base)
    except ollama.ResponseError as error:
        status: Status = "unavailable" if error.status_code in (429, 502, 503) else "error"
        detail = f"ollama at {url} answered {error.status_code} for model {resource.model}: {error.error}"
        return EnrichmentResult(status, detail, base)
    except (ValueError, httpx.InvalidURL, ollama.RequestError) as error:  # bad settings, or not a ChatResponse
        return EnrichmentResult("error", f"ollama call to {url} failed: {error}", base)
    try:
        llm_records = parse_reply(response.message.content or "")
    except ReplyError as error:
        return EnrichmentResult("error", f"model {resource.model} reply rejected: {error}", base)
    records, filled, conflicts = merge(base, llm_records, text.split("\f"))
    unverified = sum(len(r.get("unverified", {})) for r in records)
    detail = (
        f"model {resource.model}: {len(filled)} field(s) filled, {len(conflicts)} conflict(s) with rules, "
        f"{unverified} value(s) refused (not printed on the page the model named)"
    )
    return EnrichmentResult("ok", detail, records, filled, conflicts)


def build_messages(text: str, rules: list[dict[str, Any]], *, max_chars: int) -> list[dict[str, str]]:
    known = [{k: v for k, v in _plain_values(r).items() if v is not None} for r in rules]
    system = SYSTEM_PROMPT.format(schema=json.dumps(DOCUMENT_JSON_SCHEMA))
    user = (
        f"Values already extracted by rules (one object per record):\n{json.dumps(known, ensure_ascii=False)}\n\n"
        f"Datasheet text:\n{truncate_pages(text, max_chars)}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def truncate_pages(text: str, max_chars: int) -> str:
    """Fit the text in `max_chars`, giving every page (split on form feeds) a fair share.

    Spec tables sit on any page (often the second), so cutting only the tail would lose them.
    """
    pages = ["\n".join(" ".join(ln.split()) for ln in page.splitlines() if ln.strip()) for page in text.split("\f")]
    budgets = [len(p) for p in pages]
    remaining, open_pages = max_chars, sorted(range(len(pages)), key=lambda i: budgets[i])
    while open_pages:  # water-filling: short pages keep everything, long pages share what is left
        share = remaining // len(open_pages)
        index = open_pages.pop(0)
        budgets[index] = min(budgets[index], share)
        remaining -= budgets[index]
    parts = []
    for number, (page, budget) in enumerate(zip(pages, budgets, strict=True), start=1):
        body = page if len(page) <= budget else page[:budget].rsplit("\n", 1)[0] + "\n[... page truncated]"
        parts.append(f"--- page {number} ---\n{body}" if len(pages) > 1 else body)
    return "\n".join(parts)


def parse_reply(content: str) -> list[dict[str, Any]]:
    """`message.content` is a JSON string; trust nothing in it until it matches the schema."""
    try:
        document = json.loads(content)
    except ValueError as error:
        raise ReplyError(f"not JSON ({error}): {content[:80]!r}") from None
    _check(document, DOCUMENT_JSON_SCHEMA, "$")
    return document["records"]


def _check(value: Any, schema: dict[str, Any], path: str) -> None:
    """Validate against the subset of JSON Schema that SPEC_JSON_SCHEMA uses."""
    if "enum" in schema and value not in schema["enum"]:
        raise ReplyError(f"{path}: {value!r} is not one of {schema['enum']}")
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(_is_type(value, t) for t in allowed):
            raise ReplyError(f"{path}: expected {' or '.join(allowed)}, got {json.dumps(value)[:40]}")
    if isinstance(value, dict) and "properties" in schema:
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise ReplyError(f"{path}: missing {', '.join(missing)}")
        extra = [k for k in value if k not in schema["properties"]]
        if extra and schema.get("additionalProperties") is False:
            raise ReplyError(f"{path}: unexpected {', '.join(extra)}")
        for key, sub in schema["properties"].items():
            if key in value:
                _check(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]")


def _is_type(value: Any, name: str) -> bool:
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return {
        "null": value is None,
        "string": isinstance(value, str),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }.get(name, False)


def merge(
    rules: list[dict[str, Any]], llm: list[dict[str, Any]], pages: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[tuple[int, str]], list[tuple[int, str]]]:
    """Pair LLM records with rules records (by model, else by position) and fill only what the rules missed.

    With the document's `pages`, a number the model fills must be printed on the page it names; one that is not
    goes to the record's `unverified` (with the page claimed), never into its fields."""
    records = [{**copy.deepcopy(r), "llm_filled": [], "conflicts": {}, "unverified": {}} for r in rules]
    pairs = _pair(rules, llm)
    filled: list[tuple[int, str]] = []
    conflicts: list[tuple[int, str]] = []
    for llm_index, llm_record in enumerate(llm):
        index = pairs.get(llm_index)
        if index is None:  # a model the rules did not find at all
            empty = {**dict.fromkeys(IDENTITY_FIELDS), "fields": {}, "llm_filled": [], "conflicts": {}}
            records.append({**empty, "unverified": {}})
            index = len(records) - 1
        record = records[index]
        current = _plain_values(record)
        claimed = llm_record.get("pages") or {}
        for name in SPEC_FIELD_NAMES:
            value = llm_record.get(name)
            if value is None:
                continue
            page = claimed.get(name) if name in NUMERIC_FIELDS else None
            if current.get(name) is None:
                if name in NUMERIC_FIELDS:
                    if pages is not None and not printed_on(value, pages, page):
                        record["unverified"][name] = _field_value(name, value, "llm", page)
                        continue
                    record["fields"][name] = _field_value(name, value, "llm", page)
                else:
                    record[name] = value
                record["llm_filled"].append(name)
                filled.append((index, name))
            elif not _same(current[name], value):
                record["conflicts"][name] = _field_value(name, value, "llm", page)
                conflicts.append((index, name))
    return records, filled, conflicts


def printed_on(value: float, pages: list[str], page: int | None) -> bool:
    """Whether a number is printed on the named page (1-based), as '204', '204.0', '5,12', '5.12' or '-0,35'."""
    if not isinstance(page, int) or not 1 <= page <= len(pages):
        return False
    text = pages[page - 1].replace("\u2212", "-")
    for match in re.finditer(r"-?\s?\d+(?:[.,]\d+)?", text):
        raw = match.group(0).replace(" ", "").replace(",", ".")
        try:
            if math.isclose(float(raw), float(value), rel_tol=1e-9, abs_tol=1e-9):
                return True
        except ValueError:
            continue
    return False


def _pair(rules: list[dict[str, Any]], llm: list[dict[str, Any]]) -> dict[int, int]:
    """LLM record index -> rules record index."""
    pairs: dict[int, int] = {}
    by_model = {_key(r.get("model")): i for i, r in enumerate(rules) if _key(r.get("model"))}
    for llm_index, record in enumerate(llm):
        index = by_model.pop(_key(record.get("model")), None)
        if index is not None:
            pairs[llm_index] = index
    # By position only when no name matched at all (the model spelled every name its own way) and the counts
    # agree; after a partial match, position would pair unrelated models.
    if not pairs and len(rules) == len(llm):
        pairs.update(zip(range(len(llm)), range(len(rules)), strict=True))
    return pairs


def _key(name: Any) -> str:
    """Names compared without case, spaces or punctuation: "JKM550M-72HL4-V" == "jkm550m 72hl4 v"."""
    return re.sub(r"[\W_]", "", name.casefold()) if isinstance(name, str) else ""


def _same(rules_value: Any, llm_value: Any) -> bool:
    try:
        return math.isclose(float(rules_value), float(llm_value), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return _key(str(rules_value)) == _key(str(llm_value))


def _field_value(name: str, value: Any, source: str, page: int | None = None) -> dict[str, Any]:
    unit = {"unit": NUMERIC_FIELDS[name]} if name in NUMERIC_FIELDS else {}
    return {"value": value, **unit, "page": page, "source": source}


def _plain_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """Spec field -> bare value (None when absent) of a normalized record."""
    values = {name: record.get(name) for name in IDENTITY_FIELDS}
    values.update({name: fv.get("value") for name, fv in record["fields"].items() if name in NUMERIC_FIELDS})
    return values


def _normalize_record(record: Any) -> dict[str, Any]:
    """Bring a rules record to the extractor's JSON shape; values and unknown keys are kept as they are."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        record = dataclasses.asdict(record)
    out = {k: copy.deepcopy(v) for k, v in record.items() if k != "fields" and k not in NUMERIC_FIELDS}
    for name in IDENTITY_FIELDS:  # tolerate {"value": ...} dicts for identity fields as well
        if isinstance(out.get(name), Mapping):
            out[name] = out[name].get("value")
    fields = {**{k: v for k, v in record.items() if k in NUMERIC_FIELDS}, **(record.get("fields") or {})}
    out["fields"] = {
        name: {"page": None, "source": "rules", **copy.deepcopy(value)}
        if isinstance(value, Mapping)
        else _field_value(name, value, "rules")
        for name, value in fields.items()
    }
    return out


def _canonical_model(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _transport_reason(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    if isinstance(error, ConnectionError):
        return "connection failed (is `ollama serve` running?)"
    return f"{type(error).__name__}: {error}"
