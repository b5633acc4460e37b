"""Accuracy and throughput benchmark for the rule-based datasheet extractor (not a test: it prints, never asserts).

Usage: ysh bench pdf-accuracy DIR [DIR ...]   (each DIR holds PDFs and their labels.json)

Prints per sheet and per directory: precision and recall of every scored field, module STC recall and precision,
inverter and battery key-field recall and precision, and throughput: text-layer pages/s and OCR pages/s apart.

Labels not scored, and why:
- max_ac_va, max_dc_w, euro_eff_pct, max_out_a, max_ac_current_a, rated/nominal input voltage, min_start_v,
  max_input_current_a, ac_nominal_v, operating_v, modules, max_system_voltage, max_series_fuse_a, NOCT/NMOT, ip,
  round_trip_eff, warranty, communication, operating_temp, cells, series: not SPEC_FIELDS.
- inverter and battery dimensions (dimensions_mm "490/519/185 (W/H/D)", dims_mm): W/H/D boxes do not map onto a
  module's length/width/thickness, so the extractor only reads module dimensions.
- certifications: scored as a separate set metric, restricted to the standard families the extractor names
  (IEC, UL, VDE, EN, AS, ABNT NBR, UN 38.3, INMETRO); marks such as CE, TUV, CGC, SAA, ISO 9001 are not read.
"""

from __future__ import annotations

import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rapidfuzz import fuzz, process

from ysh_assets.datasheets.extract import SPEC_FIELDS, Extraction, _certifications, extract_pdf, parse_number

STC_FIELDS = ("pmax_w", "vmp_v", "imp_a", "voc_v", "isc_a", "efficiency_pct")
KEY_FIELDS = {
    "inverter": ("ac_power_w", "max_efficiency_pct", "max_dc_voltage_v", "mppt_count", "mppt_min_v", "mppt_max_v"),
    "battery": ("usable_kwh", "nominal_voltage_v"),
}
_MODEL_KEYS = {
    "pmax_w": "pmax_w",
    "vmp_v": "vmp_v",
    "imp_a": "imp_a",
    "voc_v": "voc_v",
    "isc_a": "isc_a",
    "eff_pct": "efficiency_pct",
    "mppt": "mppt_count",
    "rated_ac_w": "ac_power_w",
    "nominal_ac_w": "ac_power_w",
    "max_eff_pct": "max_efficiency_pct",
    "usable_kwh": "usable_kwh",
    "nominal_v": "nominal_voltage_v",
    "weight_kg": "weight_kg",
}
_TEMP_COEFF_KEYS = {"pmax": "temp_coeff_pmax_pct_per_c", "pmpp": "temp_coeff_pmax_pct_per_c"}


def normalize_model(name: str) -> str:
    """'JKM550M-72HL4(-V)' -> 'JKM550M72HL4': optional suffixes in parentheses and punctuation do not count."""
    return re.sub(r"[^A-Z0-9]", "", re.sub(r"\([^)]*\)", "", name.upper()))


def equipment_type_of(label: str) -> str:
    text = label.lower()
    if text.startswith("module"):
        return "module"
    if text.startswith("battery"):
        return "battery"
    if "micro" in text:
        return "inverter_micro"
    return "inverter_hybrid" if "hybrid" in text else "inverter_string"


def _shared_fields(sheet: dict, kind: str) -> dict[str, float]:
    """Sheet-level labels that apply to every model of the sheet."""
    shared: dict[str, float] = {}
    if kind == "module":
        if "dimensions_mm" in sheet:
            dims = [float(x) for x in re.split(r"[x\u00d7]", sheet["dimensions_mm"])]
            shared.update(zip(("length_mm", "width_mm", "thickness_mm"), dims, strict=True))
        for key, value in sheet.get("temp_coeff", {}).items():
            quantity = key.split("_")[0]
            shared[_TEMP_COEFF_KEYS.get(quantity, f"temp_coeff_{quantity}_pct_per_c")] = value
    if "weight_kg" in sheet and kind != "battery":
        shared["weight_kg"] = sheet["weight_kg"]
    if kind.startswith("inverter"):
        if "dc_max_input_v" in sheet:
            shared["max_dc_voltage_v"] = sheet["dc_max_input_v"]
        if "mpp_range_v" in sheet:
            low, high = sheet["mpp_range_v"].split("-")
            shared.update(mppt_min_v=float(low), mppt_max_v=float(high))
        if "mppt" in sheet:
            shared["mppt_count"] = int(parse_number(str(sheet["mppt"])))
        phase = re.search(r"(single|three)-phase", sheet.get("type", ""))
        if phase:
            shared["phases"] = 1 if phase.group(1) == "single" else 3
    return shared


def expected_fields(sheet: dict) -> dict[str, dict[str, float]]:
    """Labelled values per model name, keyed by SPEC_FIELDS names."""
    kind = equipment_type_of(sheet.get("type", ""))
    shared = _shared_fields(sheet, kind)
    models = sheet.get("stc") or sheet.get("stc_minimum") or sheet.get("models") or []
    expected = {}
    for entry in models:
        fields = dict(shared)
        for key, value in entry.items():
            if key in _MODEL_KEYS:
                number = parse_number(str(value))
                if number is not None:
                    fields[_MODEL_KEYS[key]] = number
        expected[entry["model"]] = fields
    return expected


def _same(name: str, got: float | int | str, want: float) -> bool:
    if SPEC_FIELDS[name] == "count":
        return got == want
    return abs(float(got) - want) <= 0.005 * abs(want)


def _power_suffix(name: str) -> tuple[str, str] | None:
    """'TSM-NEG19RC.20 590' -> ('TSMNEG19RC20', '590'); 'HT54-18X 395W' -> ('HT5418X', '395')."""
    match = re.match(r"^(.*?)[\s_-]*(\d{2,4})\s*(?:wp?)?$", name.strip(), re.IGNORECASE)
    return (normalize_model(match.group(1)), match.group(2)) if match else None


def _match_model(model: str, expected: dict[str, dict[str, float]]) -> str | None:
    """The labelled model an extracted record stands for, or None.

    Exact normalized match; else a unique prefix match ('SG3K-D-10' is the type designation of 'SG3K-D'); else the
    same power class under a similar series (labels name power-class columns 'series + wattage', as the reference
    README says: 'TSM-NEG19RC.20 590' is 'Vertex N 590'); else one clearly closest name (rapidfuzz, >= 85)."""
    key = normalize_model(model)
    names = {normalize_model(name): name for name in expected}
    if key in names:
        return names[key]
    # A label may carry the brand the sheet does not print beside the code ('SOFAR 3.3KTL-X' for '3.3KTL-X').
    unbranded = {normalize_model(name.split(maxsplit=1)[1]): name for name in expected if len(name.split()) > 1}
    if key in unbranded:
        return unbranded[key]
    prefixed = [name for norm, name in names.items() if norm and (key.startswith(norm) or norm.startswith(key))]
    if prefixed:
        return prefixed[0] if len(prefixed) == 1 else None
    ours = _power_suffix(model)
    if ours:
        same_class = [
            name
            for name in expected
            if (theirs := _power_suffix(name))
            and theirs[1] == ours[1]
            and (not ours[0] or not theirs[0] or fuzz.partial_ratio(ours[0], theirs[0]) >= 70)
        ]
        if len(same_class) == 1:
            return same_class[0]
        if same_class:
            return None
    best = process.extractOne(key, list(names), scorer=fuzz.ratio, score_cutoff=85)
    return names[best[0]] if best else None


def score_sheet(extraction: Extraction, sheet: dict) -> dict:
    """Field-level counts for one sheet: correct, wrong, unscored (no label to compare), labelled, found."""
    expected = expected_fields(sheet)
    found: set[tuple[str, str]] = set()
    correct = wrong = unscored = 0
    wrong_values = []
    for record in extraction.specs:
        target = _match_model(record.model, expected)
        for name, fv in record.fields.items():
            if target is None:
                wrong += 1
                wrong_values.append((record.model, name, fv.value, None))
            elif name not in expected[target]:
                unscored += 1
            elif _same(name, fv.value, expected[target][name]):
                correct += 1
                found.add((target, name))
            else:
                wrong += 1
                wrong_values.append((record.model, name, fv.value, expected[target][name]))
    labelled = [(model, name) for model, fields in expected.items() for name in fields]
    kind = equipment_type_of(sheet.get("type", ""))
    family = "inverter" if kind.startswith("inverter") else kind
    stc = [(m, n) for m, n in labelled if n in STC_FIELDS and family == "module"]
    key_names = KEY_FIELDS.get(family, ())
    keys = [(m, n) for m, n in labelled if n in key_names]
    key_wrong = sum(1 for _, name, _, _ in wrong_values if name in key_names)
    stc_wrong = sum(1 for _, name, _, _ in wrong_values if name in STC_FIELDS and family == "module")
    want_certs = set(_certifications(", ".join(sheet.get("certifications", []))))
    got_certs = set(extraction.certifications)
    return {
        "correct": correct,
        "wrong": wrong,
        "unscored": unscored,
        "labelled": len(labelled),
        "recalled": sum(1 for item in labelled if item in found),
        "family": family,
        "stc_labelled": len(stc),
        "stc_recalled": sum(1 for item in stc if item in found),
        "stc_wrong": stc_wrong,
        "key_labelled": len(keys),
        "key_recalled": sum(1 for item in keys if item in found),
        "key_wrong": key_wrong,
        "wrong_values": wrong_values,
        "certs_labelled": len(want_certs),
        "certs_found": len(want_certs & got_certs),
        "certs_extra": sorted(got_certs - want_certs),
        "manufacturer_ok": bool(extraction.manufacturer)
        and normalize_model(extraction.manufacturer) in normalize_model(sheet.get("manufacturer", "")),
        "type_ok": extraction.equipment_type == equipment_type_of(sheet.get("type", "")),
    }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _timed_extract(path: Path) -> tuple[Extraction, float]:
    start = time.perf_counter()
    extraction = extract_pdf(path)
    return extraction, time.perf_counter() - start


def score_directory(directory: Path, extractions: dict[Path, tuple[Extraction, float]]) -> dict:
    """Per-sheet rows and totals for one directory of PDFs and its labels.json."""
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    per_pdf = {}
    for pdf, (extraction, seconds) in extractions.items():
        sheet = labels.get(pdf.name)
        row = {
            "pages": extraction.pages,
            "ocr_pages": len(extraction.ocr_pages),
            "seconds": seconds,
            "has_text_layer": extraction.has_text_layer,
            "labelled": sheet is not None,
        }
        if sheet is not None:
            row |= score_sheet(extraction, sheet)
            row["precision"] = _ratio(row["correct"], row["correct"] + row["wrong"])
            row["recall"] = _ratio(row["recalled"], row["labelled"])
        per_pdf[pdf.name] = row
    return {"per_pdf": per_pdf, "overall": totals(list(per_pdf.values()))}


def totals(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["labelled"]]

    def total(key: str, family: str | None = None) -> int:
        return sum(r[key] for r in scored if family is None or r["family"] == family)

    def precision(family: str, wrong_key: str, recalled_key: str) -> float | None:
        return _ratio(total(recalled_key, family), total(recalled_key, family) + total(wrong_key, family))

    text_rows = [r for r in rows if not r["ocr_pages"]]
    ocr_rows = [r for r in rows if r["ocr_pages"]]
    text_pages, text_seconds = sum(r["pages"] for r in text_rows), sum(r["seconds"] for r in text_rows)
    ocr_pages, ocr_seconds = sum(r["ocr_pages"] for r in ocr_rows), sum(r["seconds"] for r in ocr_rows)
    return {
        "precision": _ratio(total("correct"), total("correct") + total("wrong")),
        "recall": _ratio(total("recalled"), total("labelled")),
        "module_stc_recall": _ratio(total("stc_recalled"), total("stc_labelled")),
        "module_stc_precision": precision("module", "stc_wrong", "stc_recalled"),
        "inverter_key_recall": _ratio(total("key_recalled", "inverter"), total("key_labelled", "inverter")),
        "inverter_key_precision": precision("inverter", "key_wrong", "key_recalled"),
        "battery_key_recall": _ratio(total("key_recalled", "battery"), total("key_labelled", "battery")),
        "battery_key_precision": precision("battery", "key_wrong", "key_recalled"),
        "cert_recall": _ratio(total("certs_found"), total("certs_labelled")),
        "manufacturer_accuracy": _ratio(sum(r["manufacturer_ok"] for r in scored), len(scored)),
        "type_accuracy": _ratio(sum(r["type_ok"] for r in scored), len(scored)),
        "text_pages": text_pages,
        "text_pages_per_second": round(text_pages / text_seconds, 2) if text_seconds else None,
        "ocr_pages": ocr_pages,
        "ocr_seconds_per_page": round(ocr_seconds / ocr_pages, 2) if ocr_pages else None,
    }


def run(directories: list[Path]) -> dict:
    """Extract every PDF of every directory on two processes, score each directory against its labels, print."""
    pdfs = [pdf for directory in directories for pdf in sorted(Path(directory).glob("*.pdf"))]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = dict(zip(pdfs, pool.map(_timed_extract, pdfs), strict=True))
    wall = time.perf_counter() - start
    report = {}
    for directory in map(Path, directories):
        mine = {pdf: result for pdf, result in results.items() if pdf.parent == directory}
        report[str(directory)] = score_directory(directory, mine)
        _print_report(str(directory), report[str(directory)])
    every = [row for part in report.values() for row in part["per_pdf"].values()]
    overall = totals(every) | {"wall_seconds": round(wall, 2), "pages": sum(r["pages"] for r in every)}
    if len(directories) > 1:
        _print_totals("all directories", overall)
    print(f"{overall['pages']} pages in {overall['wall_seconds']} s on 2 processes")
    return {"directories": report, "overall": overall}


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:5.1f}%"


def _print_report(title: str, result: dict) -> None:
    print(f"\n== {title}")
    print(f"{'pdf':58} {'pages':>5} {'prec':>7} {'recall':>7} {'found/labelled':>15}")
    for name, row in result["per_pdf"].items():
        if not row["labelled"]:
            print(f"{name:58} {row['pages']:5}  (no labels)")
            continue
        counts = f"{row['recalled']}/{row['labelled']}"
        note = f"  OCR pages: {row['ocr_pages']}" if row["ocr_pages"] else ""
        print(f"{name:58} {row['pages']:5} {_pct(row['precision']):>7} {_pct(row['recall']):>7} {counts:>15}{note}")
        for model, field, got, want in row["wrong_values"]:
            print(f"    wrong: {model} {field} = {got} (label {want})")
    _print_totals(title, result["overall"])


def _print_totals(title: str, o: dict) -> None:
    print(
        f"{title}: precision {_pct(o['precision'])}, recall {_pct(o['recall'])}; module STC recall "
        f"{_pct(o['module_stc_recall'])} at precision {_pct(o['module_stc_precision'])}; inverter key fields "
        f"{_pct(o['inverter_key_recall'])} at {_pct(o['inverter_key_precision'])}; battery key fields "
        f"{_pct(o['battery_key_recall'])} at {_pct(o['battery_key_precision'])}"
    )
    print(
        f"  certifications {_pct(o['cert_recall'])}, manufacturer {_pct(o['manufacturer_accuracy'])}, type "
        f"{_pct(o['type_accuracy'])}; text layer {o['text_pages']} pages at {o['text_pages_per_second']} pages/s "
        f"(one process); OCR {o['ocr_pages']} pages at {o['ocr_seconds_per_page']} s/page"
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        raise SystemExit(2)
    run([Path(a) for a in args])


if __name__ == "__main__":
    main()
