"""Physics that decides between readings and keeps wrong numbers out of the tables.

A misread column (a shifted cell, a NOCT value taken for STC, a footnote digit glued on) rarely survives these:
Pmax = Vmp x Imp within 3 %, Voc > Vmp, Isc > Imp, efficiency = Pmax / area within 0.6 points, and every
electrical value moving one way with the power class. A value that breaks one is dropped and reported with the
reason, never stored as fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POWER_TOLERANCE = 0.03
EFFICIENCY_TOLERANCE_POINTS = 0.6
MONOTONE_FIELDS = ("vmp_v", "imp_a", "voc_v", "isc_a", "efficiency_pct")


@dataclass(frozen=True)
class Rejection:
    model: str
    field: str
    value: float | int
    reason: str

    def to_json(self) -> dict:
        return {"model": self.model, "field": self.field, "value": self.value, "reason": self.reason}


def module_violations(values: dict[str, float]) -> dict[str, str]:
    """Fields of one module's STC reading that contradict each other, with the reason."""
    bad: dict[str, str] = {}
    get = values.get
    if get("pmax_w") and get("vmp_v") and get("imp_a"):
        product = values["vmp_v"] * values["imp_a"]
        if abs(product - values["pmax_w"]) / values["pmax_w"] > POWER_TOLERANCE:
            reason = f"Vmp x Imp = {product:.1f} W is not Pmax {values['pmax_w']:g} W (±3 %)"
            bad |= dict.fromkeys(("pmax_w", "vmp_v", "imp_a"), reason)
    if get("vmp_v") and get("voc_v") and not values["voc_v"] > values["vmp_v"]:
        bad |= dict.fromkeys(("vmp_v", "voc_v"), f"Voc {values['voc_v']:g} V is not above Vmp {values['vmp_v']:g} V")
    if get("imp_a") and get("isc_a") and not values["isc_a"] > values["imp_a"]:
        bad |= dict.fromkeys(("imp_a", "isc_a"), f"Isc {values['isc_a']:g} A is not above Imp {values['imp_a']:g} A")
    if get("efficiency_pct") and get("pmax_w") and get("length_mm") and get("width_mm") and "pmax_w" not in bad:
        area = values["length_mm"] * values["width_mm"] / 1e6
        computed = values["pmax_w"] / area / 10
        if abs(computed - values["efficiency_pct"]) > EFFICIENCY_TOLERANCE_POINTS:
            bad["efficiency_pct"] = (
                f"Pmax / area = {computed:.2f} % is not the printed {values['efficiency_pct']:g} % (±0.6 points)"
            )
    return bad


def non_monotone(series: list[float | None]) -> set[int]:
    """Indices that break a one-way trend over power classes in ascending order: the fewest values whose removal
    leaves the rest non-decreasing (or non-increasing). All indices when more than a quarter would go."""
    present = [(i, v) for i, v in enumerate(series) if v is not None]
    if len(present) < 3:
        return set()
    best: set[int] = set()
    for sign in (1, -1):
        values = [sign * v for _, v in present]
        # longest non-decreasing subsequence, O(n^2) on a dozen classes
        length = [1] * len(values)
        prev = [-1] * len(values)
        for j in range(len(values)):
            for i in range(j):
                if values[i] <= values[j] and length[i] + 1 > length[j]:
                    length[j], prev[j] = length[i] + 1, i
        end = max(range(len(values)), key=lambda j: length[j])
        keep = set()
        while end != -1:
            keep.add(present[end][0])
            end = prev[end]
        if len(keep) > len(best):
            best = keep
    dropped = {i for i, _ in present} - best
    if len(dropped) > len(present) / 4:
        return {i for i, _ in present}
    return dropped


_KW_IN_NAME = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,2})?)\s?K(?:W|TL)?(?![A-Za-z0-9])", re.IGNORECASE)


def inverter_violations(model: str, values: dict[str, float]) -> dict[str, str]:
    """An inverter's MPPT range sits under its maximum DC voltage, and its rated AC power agrees with the kW
    rating its model name carries ('S6-EH1P5K-H-US' is a 5 kW inverter: a printed '5000 kW' is a typo)."""
    bad: dict[str, str] = {}
    rating = _KW_IN_NAME.search(model)
    power = values.get("ac_power_w")
    if rating and power and not 0.5 <= power / (float(rating.group(1)) * 1000) <= 2:
        bad["ac_power_w"] = f"{power:g} W disagrees with the {rating.group(1)} kW in the model name"
    low, high, top = values.get("mppt_min_v"), values.get("mppt_max_v"), values.get("max_dc_voltage_v")
    if low and high and top and high > top:
        reason = f"MPPT range top {high:g} V is above the maximum DC voltage {top:g} V"
        bad |= dict.fromkeys(("mppt_min_v", "mppt_max_v", "max_dc_voltage_v"), reason)
    if values.get("max_efficiency_pct") and values["max_efficiency_pct"] >= 99.95:
        bad["max_efficiency_pct"] = "an efficiency of 100 % or more"
    return bad
