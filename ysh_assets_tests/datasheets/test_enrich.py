"""Enrichment against the loopback Ollama double: what goes on the wire, how replies merge, how failures degrade."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from ysh_assets.datasheets.enrich import (
    DOCUMENT_JSON_SCHEMA,
    NUMERIC_FIELDS,
    SPEC_FIELD_NAMES,
    SPEC_JSON_SCHEMA,
    OllamaResource,
    enrich,
    health,
    truncate_pages,
)
from ysh_assets_tests.doubles.ollama_server import OllamaServer

TEXT = "BYD Battery-Box Premium HVS\nUsable Energy 5.12 kWh\nNominal Voltage 204 V\fPage two: warranty"
# A rules record as the extractor's JSON writes it (Extraction.to_json()["specs"]).
RULES = [
    {
        "model": "HVS 5.1",
        "manufacturer": "BYD",
        "equipment_type": None,
        "fields": {"usable_kwh": {"value": 5.12, "unit": "kWh", "page": 1, "source": "rules"}},
    }
]


def reply(*records: dict[str, Any]) -> str:
    """A schema-complete reply: every field present, null unless given; each given number claimed on page 1
    unless the record names its own pages."""
    complete = []
    for record in records:
        pages = {name: (1 if record.get(name) is not None else None) for name in NUMERIC_FIELDS}
        complete.append({**dict.fromkeys(SPEC_FIELD_NAMES), **record, "pages": {**pages, **record.get("pages", {})}})
    return json.dumps({"records": complete})


def resource(server: OllamaServer, **overrides: Any) -> OllamaResource:
    return OllamaResource(base_url=server.base_url, **{"timeout_seconds": 5.0, **overrides})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_request_on_the_wire_is_non_streaming_structured_and_deterministic() -> None:
    with OllamaServer(reply=reply({"model": "HVS 5.1"})) as server:
        result = enrich(resource(server, model="llama3.2"), TEXT, RULES)
        [body] = server.chat_requests()
    assert result.status == "ok"
    assert body["model"] == "llama3.2"
    assert body["stream"] is False
    assert body["format"] == DOCUMENT_JSON_SCHEMA
    assert body["format"]["properties"]["records"]["items"] == SPEC_JSON_SCHEMA
    assert body["options"]["temperature"] == 0
    system, user = body["messages"]
    assert (system["role"], user["role"]) == ("system", "user")
    assert '"usable_kwh": 5.12' in user["content"]  # the rules' values are in the prompt
    assert "Usable Energy 5.12 kWh" in user["content"]
    assert "--- page 2 ---" in user["content"]


def test_schema_types_every_numeric_field_as_number_or_null() -> None:
    properties = SPEC_JSON_SCHEMA["properties"]
    assert set(SPEC_JSON_SCHEMA["required"]) == set(properties) == {*SPEC_FIELD_NAMES, "pages"}
    assert set(properties["pages"]["properties"]) == set(NUMERIC_FIELDS)
    assert all(p == {"type": ["integer", "null"]} for p in properties["pages"]["properties"].values())
    assert properties["equipment_type"]["enum"][:-1] == [
        "module",
        "inverter_string",
        "inverter_micro",
        "inverter_hybrid",
        "battery",
    ]
    assert all(properties[name] == {"type": ["number", "null"]} for name in NUMERIC_FIELDS)


def test_missing_field_is_filled_with_source_llm() -> None:
    llm = reply({"manufacturer": "BYD", "model": "HVS 5.1", "equipment_type": "battery", "nominal_voltage_v": 204})
    with OllamaServer(reply=llm) as server:
        result = enrich(resource(server), TEXT, RULES)
    assert result.status == "ok"
    [record] = result.records
    assert record["fields"] == {
        "usable_kwh": {"value": 5.12, "unit": "kWh", "page": 1, "source": "rules"},
        "nominal_voltage_v": {"value": 204, "unit": "V", "page": 1, "source": "llm"},
    }
    assert (record["model"], record["manufacturer"], record["equipment_type"]) == ("HVS 5.1", "BYD", "battery")
    assert record["llm_filled"] == ["equipment_type", "nominal_voltage_v"]
    assert result.filled == [(0, "equipment_type"), (0, "nominal_voltage_v")]
    assert result.conflicts == [] and record["conflicts"] == {}


def test_contradicting_value_keeps_rules_and_records_conflict() -> None:
    llm = reply({"manufacturer": "BYD Company", "model": "HVS 5.1", "usable_kwh": 5.1})
    with OllamaServer(reply=llm) as server:
        result = enrich(resource(server), TEXT, RULES)
    [record] = result.records
    assert record["fields"]["usable_kwh"] == {"value": 5.12, "unit": "kWh", "page": 1, "source": "rules"}
    assert record["manufacturer"] == "BYD"
    assert record["conflicts"] == {
        "manufacturer": {"value": "BYD Company", "page": None, "source": "llm"},
        "usable_kwh": {"value": 5.1, "unit": "kWh", "page": 1, "source": "llm"},
    }
    assert result.conflicts == [(0, "manufacturer"), (0, "usable_kwh")]
    assert result.filled == []


def test_a_value_not_printed_on_the_page_the_model_names_is_refused() -> None:
    # 204 V is printed on page 1; the model claims page 2, and invents a weight printed nowhere.
    llm = reply({"model": "HVS 5.1", "nominal_voltage_v": 204, "weight_kg": 91, "pages": {"nominal_voltage_v": 2}})
    with OllamaServer(reply=llm) as server:
        result = enrich(resource(server), TEXT, RULES)
    [record] = result.records
    assert set(record["fields"]) == {"usable_kwh"}
    assert record["unverified"] == {
        "nominal_voltage_v": {"value": 204, "unit": "V", "page": 2, "source": "llm"},
        "weight_kg": {"value": 91, "unit": "kg", "page": 1, "source": "llm"},
    }
    assert result.filled == [] and "2 value(s) refused" in result.detail


def test_same_values_spelled_differently_are_no_conflict_and_unfound_models_are_added() -> None:
    rules = [{"model": "JKM550M-72HL4-V", "pmax_w": 550}]  # flat records with bare values are accepted too
    llm = reply({"model": "jkm550m 72hl4 v", "pmax_w": 550.0}, {"model": "JKM555M-72HL4-V", "pmax_w": 555})
    with OllamaServer(reply=llm) as server:
        result = enrich(resource(server), "JKM550M 550 W ... JKM555M 555 W", rules)
    assert result.status == "ok"
    assert result.conflicts == []
    first, second = result.records
    assert first["model"] == "JKM550M-72HL4-V"
    assert first["fields"]["pmax_w"] == {"value": 550, "unit": "W", "page": None, "source": "rules"}
    assert second["model"] == "JKM555M-72HL4-V"
    assert second["fields"]["pmax_w"] == {"value": 555, "unit": "W", "page": 1, "source": "llm"}
    assert result.filled == [(1, "model"), (1, "pmax_w")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("The module has 550 W.", "not JSON"),
        (json.dumps({"records": [{"model": "x"}]}), "missing"),
        (reply({"pmax_w": "550 W"}), "$.records[0].pmax_w: expected number or null"),
        (reply({"equipment_type": "solar panel"}), "is not one of"),
        (reply({"pmax_w": True}), "expected number or null"),
        (json.dumps([]), "expected object"),
    ],
)
def test_invalid_reply_is_an_error_and_keeps_rules_only(content: str, expected: str) -> None:
    with OllamaServer(reply=content) as server:
        result = enrich(resource(server), TEXT, RULES)
    assert result.status == "error"
    assert expected in result.detail
    assert result.records == RULES
    assert result.filled == result.conflicts == []


def test_model_not_pulled_is_an_error_naming_the_model() -> None:
    with OllamaServer(models=("qwen2.5:7b",)) as server:
        result = enrich(resource(server, model="llama3.2"), TEXT, RULES)
    assert result.status == "error"
    assert "404" in result.detail
    assert 'model "llama3.2" not found, try pulling it first' in result.detail
    assert result.records == RULES


def test_server_error_is_an_error_with_its_message() -> None:
    with OllamaServer(fail_status=500, fail_message="the model failed to generate a response") as server:
        result = enrich(resource(server), TEXT, RULES)
    assert result.status == "error"
    assert "500" in result.detail and "failed to generate" in result.detail


def test_connection_refused_is_unavailable_quickly() -> None:
    started = time.monotonic()
    result = enrich(OllamaResource(base_url=f"http://127.0.0.1:{closed_port()}"), TEXT, RULES)
    assert result.status == "unavailable"
    assert "unreachable" in result.detail
    assert result.records == RULES
    assert time.monotonic() - started < 20  # refused at once; generous for a busy CI machine


def test_slow_server_times_out_as_unavailable() -> None:
    with OllamaServer(reply=reply({}), delay_seconds=60) as server:
        started = time.monotonic()
        result = enrich(resource(server, timeout_seconds=0.3), TEXT, RULES)
        elapsed = time.monotonic() - started
    assert result.status == "unavailable"
    assert "timed out" in result.detail
    assert result.records == RULES
    assert elapsed < 20  # the client gave up long before the server's delay


def test_detail_never_shows_url_credentials() -> None:
    result = enrich(OllamaResource(base_url=f"http://admin:s3cret@127.0.0.1:{closed_port()}"), TEXT, RULES)
    assert result.status == "unavailable"
    assert "s3cret" not in result.detail and "admin" not in result.detail


def test_health_checks_the_model_is_pulled() -> None:
    with OllamaServer(models=("llama3.2:latest", "qwen2.5:7b")) as server:
        assert health(resource(server, model="llama3.2")) == (True, f"model llama3.2 available at {server.base_url}")
        ok, detail = health(resource(server, model="mistral"))
        assert not ok and "not pulled" in detail and "qwen2.5:7b" in detail
        assert [(r.method, r.path) for r in server.requests] == [("GET", "/api/tags")] * 2
    ok, detail = health(OllamaResource(base_url=f"http://127.0.0.1:{closed_port()}"))
    assert not ok and "unreachable" in detail


def test_double_rejects_bad_chat_requests() -> None:
    with OllamaServer() as server:
        url = f"{server.base_url}/api/chat"
        cases = [
            ({"messages": [], "stream": False}, "model is required"),
            ({"model": "llama3.2", "messages": "hi", "stream": False}, "messages must be a list"),
            ({"model": "llama3.2", "messages": []}, "stream=false"),
        ]
        for body, message in cases:
            response = httpx.post(url, json=body)
            assert response.status_code == 400 and message in response.json()["error"]
        assert httpx.post(url, content=b"{not json").status_code == 400
        tags = httpx.get(f"{server.base_url}/api/tags").json()
        assert tags["models"][0]["name"] == "llama3.2:latest" and "details" in tags["models"][0]


def test_truncation_keeps_every_page() -> None:
    text = "\f".join(["A" * 50 + "\n" + "a" * 5000, "B" * 50 + "\n" + "b" * 5000, "short page C"])
    out = truncate_pages(text, 1000)
    assert "AAAA" in out and "BBBB" in out and "short page C" in out
    assert len(out) < 1200 and out.count("[... page truncated]") == 2
