"""`ysh bench catalog DIR`: kit parsing accuracy on real distributor files, and certification matching throughput.

Kit accuracy is self-consistency: over the kits whose title states a kWp and whose title or composition states the
module power, the share whose parsed kWp, module count and power, and component quantities agree (`kit_accuracy`).
Matching throughput: 10,000 products made from the full CEC lists (perturbed spellings, typos, suffixes, some
absent) matched against those lists, timed and scored against the known truth. Not a test: it prints figures.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from ysh_assets.catalog.certifications import canonical_manufacturer, read_cec
from ysh_assets.catalog.distributors import DISTRIBUTORS, read_catalog
from ysh_assets.catalog.kits import kit_accuracy
from ysh_assets.catalog.matching import BRACKETS, manufacturer_key, match_certifications, normalize_model
from ysh_assets.catalog.records import CatalogFormatError
from ysh_assets.catalog.sources import BUNDLED_CERTIFICATIONS

SAMPLE_CEC_MODULES = BUNDLED_CERTIFICATIONS / "sam-library-cec-modules-2021-12-01.csv"
SAMPLE_CEC_INVERTERS = BUNDLED_CERTIFICATIONS / "sam-library-cec-inverters-2019-03-05.csv"
_ABSENT_BRANDS = ("HANERSUN", "SUNOVA", "OSDA", "DAH SOLAR", "HONOR SOLAR", "TSUNESS", "LIVOLTEK", "RENOVIGI")
_SUFFIXES = ("-BK", " BLACK", "-AG", "(BF)", "-G2", " PRO")


def _typo(model: str, rng: random.Random) -> str:
    """One letter of `model` replaced, dropped or doubled (digits are left alone: a product's power digits are
    rarely misspelt in a way that keeps the power)."""
    letters = [k for k, ch in enumerate(model) if ch.isalpha()]
    if not letters:
        return model
    k = rng.choice(letters)
    action = rng.random()
    if action < 0.5:
        replacement = rng.choice([c for c in string.ascii_uppercase if c != model[k].upper()])
        return model[:k] + replacement + model[k + 1 :]
    if action < 0.75:
        return model[:k] + model[k + 1 :]
    return model[:k] + model[k] + model[k:]


def _perturb(model: str, equipment_type: str, rng: random.Random) -> tuple[str, str]:
    """A distributor's spelling of a certified model, and what was done to it."""
    base = BRACKETS.sub("", model) if equipment_type == "inverter" and rng.random() < 0.7 else model
    roll = rng.random()
    if roll < 0.3:
        return base, "same"
    if roll < 0.5:
        return (base.lower() if rng.random() < 0.5 else base.title()), "case"
    if roll < 0.7:
        return (base.replace("-", " ") if rng.random() < 0.5 else base.replace("-", "").replace(" ", "-")), "dashes"
    if roll < 0.8:
        return base + rng.choice(_SUFFIXES), "suffix"
    if roll < 0.92:
        return _typo(base, rng), "typo"
    return f"{rng.choice(['', 'Módulo ', 'Inversor '])}{base}".strip(), "prefix"


def build_bench_products(
    certifications: pl.DataFrame, n_products: int = 10_000, seed: int = 20261201, absent_share: float = 0.08
) -> tuple[pl.DataFrame, list[tuple[str, str, str] | None]]:
    """`n_products` product rows made from `certifications` (perturbed spellings of manufacturers and models, power
    as a distributor states it, a few without power or manufacturer, `absent_share` of products that are in no
    list), and for each the (equipment_type, manufacturer key, normalized model) of its true certification."""
    rng = random.Random(seed)
    rows = certifications.select("equipment_type", "manufacturer", "holder", "model", "rated_power_w").to_dicts()
    picks = rng.sample(range(len(rows)), n_products) if n_products <= len(rows) else None
    products: list[dict[str, Any]] = []
    truth: list[tuple[str, str, str] | None] = []
    for number in range(n_products):
        cert = rows[picks[number] if picks is not None else rng.randrange(len(rows))]
        equipment_type = cert["equipment_type"]
        power = cert["rated_power_w"]
        if rng.random() < absent_share:
            letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(2, 4)))
            model = f"{letters}{rng.randint(10, 99)}-{int(power or 0)}{rng.choice(['M', 'TL', 'HC', ''])}"
            manufacturer = rng.choice(_ABSENT_BRANDS) if rng.random() < 0.5 else cert["manufacturer"]
            truth.append(None)
            kind = "absent"
        else:
            model, kind = _perturb(cert["model"], equipment_type, rng)
            spelling = rng.random()
            listed = cert["holder"] or cert["manufacturer"]
            manufacturer = listed if spelling < 0.4 else cert["manufacturer"] if spelling < 0.8 else listed.upper()
            truth.append(
                (
                    equipment_type,
                    manufacturer_key(cert["manufacturer"]),
                    normalize_model(cert["model"], canonical_manufacturer(cert["manufacturer"])),
                )
            )
        stated = None if power is None else float(round(power)) if equipment_type == "module" else float(power)
        if rng.random() < 0.03:
            stated = None
        if rng.random() < 0.02:
            manufacturer = None
        category = equipment_type
        if equipment_type == "inverter" and stated is not None and stated < 1500:
            category = "microinverter"
        products.append(
            {
                "product_id": f"bench-{number}",
                "manufacturer": manufacturer,
                "model": model,
                "category": category,
                "power_w": stated,
                "perturbation": kind,
            }
        )
    schema = {
        "product_id": pl.String,
        "manufacturer": pl.String,
        "model": pl.String,
        "category": pl.String,
        "power_w": pl.Float64,
        "perturbation": pl.String,
    }
    return pl.DataFrame(products, schema=schema), truth


def bench_matching(
    n_products: int = 10_000,
    modules_path: str | Path = SAMPLE_CEC_MODULES,
    inverters_path: str | Path = SAMPLE_CEC_INVERTERS,
    seed: int = 20261201,
) -> dict[str, Any]:
    """Time `match_certifications` for `n_products` products made from the full CEC module and inverter lists,
    against those lists, and score the links against the known truth.

    A link is correct when the certification it names has the true one's equipment type, manufacturer key and
    normalized model (so the `[208V]` and `[240V]` rows of one inverter are the same answer). precision = correct
    links / links; recall = correct links / products that have a certification."""
    certifications = pl.concat(
        [read_cec(modules_path, "module"), read_cec(inverters_path, "inverter")], how="vertical_relaxed"
    )
    products, truth = build_bench_products(certifications, n_products, seed)
    started = time.perf_counter()
    matched = match_certifications(products, certifications)
    seconds = time.perf_counter() - started
    linked = correct = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, expected in zip(matched.iter_rows(named=True), truth, strict=True):
        if row["match_kind"] == "none":
            continue
        linked += 1
        got = (
            row["certified_equipment_type"],
            manufacturer_key(row["certified_manufacturer"]),
            normalize_model(row["certified_model"], canonical_manufacturer(row["certified_manufacturer"])),
        )
        ok = expected is not None and got == expected
        correct += ok
        by_kind[row["match_kind"]][0] += 1
        by_kind[row["match_kind"]][1] += ok
    relevant = sum(expected is not None for expected in truth)
    return {
        "seconds": round(seconds, 3),
        "products": products.height,
        "certifications": certifications.height,
        "linked": linked,
        "correct": correct,
        "precision": round(correct / linked, 4) if linked else 0.0,
        "recall": round(correct / relevant, 4) if relevant else 0.0,
        "by_kind": {kind: {"links": n, "correct": ok} for kind, (n, ok) in sorted(by_kind.items())},
    }


def distributor_of(path: Path) -> str | None:
    """The distributor a file belongs to: its folder's name, else its name's prefix before `_` (`fotus_kits.json`)."""
    for name in (path.parent.name, path.name.split("_", 1)[0]):
        if name.lower() in DISTRIBUTORS:
            return name.lower()
    return None


def kit_report(directory: Path) -> dict[str, Any]:
    """`kit_accuracy` per file holding kits, and over all of them."""
    per_file: dict[str, Any] = {}
    kits = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        distributor = distributor_of(path)
        if distributor is None:
            continue
        try:
            batch = read_catalog(distributor, path)
        except CatalogFormatError:
            continue  # not a catalog file (a README, a front sheet)
        if batch.kits:
            per_file[str(path.relative_to(directory))] = kit_accuracy(batch.kits)
            kits.extend(batch.kits)
    return {"files": per_file, "all": kit_accuracy(kits)}


def run(directory: Path, products: int = 10_000) -> dict[str, Any]:
    kits = kit_report(directory)
    print(f"Kit parsing, {directory}:")
    for name, figures in kits["files"].items():
        print(f"  {name}: {figures['exact']} exact of {figures['checkable']} checkable kits ({figures['kits']} kits)")
    total = kits["all"]
    print(
        f"  all files: exact {total['exact']} (kWp {total['kwp_exact']}, modules {total['modules_exact']}, "
        f"quantities {total['quantities_exact']}) over {total['checkable']} checkable of {total['kits']} kits; "
        "target >= 0.95"
    )
    matching = bench_matching(products)
    print(
        f"Certification matching: {matching['products']:,} products against {matching['certifications']:,} CEC rows "
        f"in {matching['seconds']} s (target <= 10 s); precision {matching['precision']}, recall {matching['recall']}"
    )
    figures = {"kits": {k: v for k, v in total.items() if k != "failures"}, "matching": matching}
    print(json.dumps(figures))
    return figures
