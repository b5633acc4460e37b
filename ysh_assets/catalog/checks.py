"""Catalog checks that are SQL over the warehouse: uncertified equipment, and datasheets that disagree with
the certification list (the load-time checks of products and kits run in their load step: see assets.py)."""

import dagster as dg

from ysh_assets.catalog.assets import CATALOG_PARTITIONS, CERTIFICATION_LINKS, CERTIFICATIONS, EQUIPMENT_PARTITIONS
from ysh_assets.warehouse.checks import partition_column_scope, sql_check

STC_TOLERANCE = 0.03  # datasheet against certification list: power, Voc, Isc, Vmp, Imp
CERTIFIABLE = "('module', 'inverter', 'microinverter', 'hybrid_inverter')"


def catalog_scope(definition: dg.PartitionsDefinition, key: str) -> tuple[str, list]:
    """Rows of one (day, distributor) partition."""
    dimensions = definition.get_partition_key_from_str(key).keys_by_dimension  # type: ignore[attr-defined]
    return "snapshot_date = %s AND distributor = %s", [dimensions["day"], dimensions["distributor"]]


def _normalized(column: str) -> str:
    return f"upper(regexp_replace({column}, '[^A-Za-z0-9]', '', 'g'))"


def _off(datasheet: str, listed: str) -> str:
    return f"abs(d.{datasheet} - c.{listed}) > {STC_TOLERANCE} * abs(c.{listed})"


catalog_checks = [
    sql_check(
        asset=CERTIFICATION_LINKS,
        partitions_def=CATALOG_PARTITIONS,
        name="certified_equipment",
        description="Modules and inverters (micro and hybrid included) without any certification match. WARN: "
        "the lists are incomplete (CEC is Californian; INMETRO publishes no open list).",
        scope=catalog_scope,
        rows_sql=f"SELECT product_id, category, manufacturer, model, power_w FROM {{table}} WHERE {{scope}} "
        f"AND category IN {CERTIFIABLE} AND match_kind = 'none'",
        severity=dg.AssetCheckSeverity.WARN,
        table="products.certification_links",
    ),
    sql_check(
        asset=CERTIFICATIONS,
        partitions_def=EQUIPMENT_PARTITIONS,
        name="datasheet_stc_agrees",
        description=f"Where a datasheet of a listed model exists (products.datasheet_specs), its STC power, Voc, "
        f"Isc, Vmp and Imp are within {STC_TOLERANCE:.0%} of the certification list's. WARN.",
        scope=partition_column_scope("c.equipment_type"),
        rows_sql="SELECT c.certifier, c.manufacturer, c.model, d.sha256, d.pmax_w, c.rated_power_w, d.voc_v, "
        "c.v_oc_ref, d.isc_a, c.i_sc_ref, d.vmp_v, c.v_mp_ref, d.imp_a, c.i_mp_ref "
        f"FROM {{table}} c JOIN products.datasheet_specs d ON {_normalized('d.model')} = {_normalized('c.model')} "
        f"WHERE {{scope}} AND ({_off('pmax_w', 'rated_power_w')} OR {_off('voc_v', 'v_oc_ref')} OR "
        f"{_off('isc_a', 'i_sc_ref')} OR {_off('vmp_v', 'v_mp_ref')} OR {_off('imp_a', 'i_mp_ref')})",
        severity=dg.AssetCheckSeverity.WARN,
        table="aneel.certifications",
    ),
]
