"""Data-quality checks on the tariffs, as SQL over the partitions of the run (the GD units' checks run
inside their load, on the stream: see `assets.generation_units`)."""

import dagster as dg

from ysh_assets.aneel.assets import TARIFF_YEARS, TARIFFS
from ysh_assets.warehouse.checks import sql_check, time_window_scope

KNOWN_TARIFF_UNITS = ["kW", "MWh", "R$/kW", "R$/MWh"]
# Rows with the same values here describe the same tariff position; their validity windows must not overlap.
TARIFF_POSITION = (
    "num_cnpj_distribuidora, dsc_base_tarifaria, dsc_sub_grupo, dsc_modalidade_tarifaria, dsc_classe, "
    "dsc_sub_classe, dsc_detalhe, nom_posto_tarifario, dsc_unidade_terciaria, sig_agente_acessante"
)

year_scope = time_window_scope("dat_inicio_vigencia")  # tariffs by the year their validity starts


tariffs_checks = [
    sql_check(
        asset=TARIFFS,
        partitions_def=TARIFF_YEARS,
        name="values_not_negative",
        description="TUSD and TE values are >= 0.",
        scope=year_scope,
        rows_sql="SELECT tariff_key, vlr_tusd, vlr_te FROM {table} WHERE {scope} AND (vlr_tusd < 0 OR vlr_te < 0)",
    ),
    sql_check(
        asset=TARIFFS,
        partitions_def=TARIFF_YEARS,
        name="validity_end_not_before_start",
        description="DatFimVigencia >= DatInicioVigencia.",
        scope=year_scope,
        rows_sql="SELECT tariff_key, dat_inicio_vigencia, dat_fim_vigencia FROM {table} WHERE {scope} "
        "AND dat_fim_vigencia < dat_inicio_vigencia",
    ),
    sql_check(
        asset=TARIFFS,
        partitions_def=TARIFF_YEARS,
        name="unit_known",
        description=f"DscUnidadeTerciaria is one of {', '.join(KNOWN_TARIFF_UNITS)}.",
        scope=year_scope,
        rows_sql="SELECT tariff_key, dsc_unidade_terciaria FROM {table} WHERE {scope} "
        "AND (dsc_unidade_terciaria IS NULL OR dsc_unidade_terciaria NOT IN (SELECT unnest(%s::text[])))",
        params=lambda: [KNOWN_TARIFF_UNITS],
    ),
    sql_check(
        asset=TARIFFS,
        partitions_def=TARIFF_YEARS,
        name="no_overlapping_validity",
        description="Rows of the same tariff position (distributor, base, subgroup, modality, class, detail, "
        "posto, unit) do not have overlapping validity windows. WARN: ANEEL republishes corrected windows.",
        scope=year_scope,
        rows_sql="SELECT tariff_key, dat_inicio_vigencia, previous_end FROM (SELECT tariff_key, dat_inicio_vigencia, "
        f"lag(dat_fim_vigencia) OVER (PARTITION BY {TARIFF_POSITION} ORDER BY dat_inicio_vigencia) AS previous_end "
        "FROM {table}) AS windows WHERE {scope} AND previous_end >= dat_inicio_vigencia",
        severity=dg.AssetCheckSeverity.WARN,
    ),
]
