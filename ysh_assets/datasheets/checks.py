"""Checks on the extracted datasheet specs, as SQL over the PDFs of the run."""

import dagster as dg

from ysh_assets.datasheets.assets import ENRICHED_PDFS
from ysh_assets.datasheets.sensors import PDF_PARTITIONS
from ysh_assets.warehouse.checks import partition_column_scope, sql_check

SPECS = "products.datasheet_specs"
pdf_scope = partition_column_scope("sha256")


def spec_check(
    name: str,
    description: str,
    rows_sql: str,
    scope=pdf_scope,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetChecksDefinition:
    return sql_check(
        asset=ENRICHED_PDFS,
        partitions_def=PDF_PARTITIONS,
        name=name,
        description=description,
        scope=scope,
        rows_sql=rows_sql,
        table=SPECS,
        severity=severity,
    )


datasheet_checks = [
    spec_check(
        "module_physical_ranges",
        "Modules: Voc 5-100 V, Isc 0.5-25 A, efficiency 5-30 %, and Pmax within 3 % of Vmp x Imp.",
        "SELECT model, voc_v, isc_a, efficiency_pct, pmax_w, vmp_v, imp_a FROM {table} "
        "WHERE {scope} AND equipment_type = 'module' AND (voc_v NOT BETWEEN 5 AND 100 "
        "OR isc_a NOT BETWEEN 0.5 AND 25 OR efficiency_pct NOT BETWEEN 5 AND 30 "
        "OR abs(pmax_w - vmp_v * imp_a) > 0.03 * pmax_w)",
    ),
    spec_check(
        "inverter_efficiency_range",
        "Inverters: maximum efficiency 80-100 %.",
        "SELECT model, max_efficiency_pct FROM {table} WHERE {scope} AND equipment_type LIKE 'inverter%%' "
        "AND max_efficiency_pct NOT BETWEEN 80 AND 100",
    ),
    spec_check(
        "required_fields_present",
        "Each type has its defining fields: modules Pmax, Voc, Isc; inverters AC power; batteries usable kWh.",
        "SELECT model, equipment_type FROM {table} WHERE {scope} AND ("
        "equipment_type IS NULL "
        "OR (equipment_type = 'module' AND (pmax_w IS NULL OR voc_v IS NULL OR isc_a IS NULL)) "
        "OR (equipment_type LIKE 'inverter%%' AND ac_power_w IS NULL) "
        "OR (equipment_type = 'battery' AND usable_kwh IS NULL))",
        # A sheet that does not print a field, or whose reading physics refused, is stored without it: worth a
        # look, not a wrong value (the reader never guesses one).
        severity=dg.AssetCheckSeverity.WARN,
    ),
    spec_check(
        "no_duplicate_models",
        "No (manufacturer, model) is described by two different PDFs (a re-issued sheet: retire the old one).",
        "SELECT s.manufacturer, s.model, count(DISTINCT all_specs.sha256) AS sheets FROM {table} AS s "
        "JOIN {table} AS all_specs ON all_specs.manufacturer = s.manufacturer AND all_specs.model = s.model "
        "WHERE {scope} GROUP BY s.manufacturer, s.model HAVING count(DISTINCT all_specs.sha256) > 1",
        scope=partition_column_scope("s.sha256"),
    ),
]
