"""Data-quality checks on the ANEEL tables, as SQL over the partitions of the run."""

import dagster as dg

from ysh_assets.aneel.assets import (
    GENERATION_UNITS,
    TARIFF_YEARS,
    TARIFFS,
    UF_PARTITIONS,
    today_in_brazil,
)
from ysh_assets.aneel.parsing import IBGE_UF_CODES
from ysh_assets.warehouse.checks import partition_column_scope, sql_check, time_window_scope

KNOWN_TARIFF_UNITS = ["kW", "MWh", "R$/kW", "R$/MWh"]
# Rows with the same values here describe the same tariff position; their validity windows must not overlap.
TARIFF_POSITION = (
    "num_cnpj_distribuidora, dsc_base_tarifaria, dsc_sub_grupo, dsc_modalidade_tarifaria, dsc_classe, "
    "dsc_sub_classe, dsc_detalhe, nom_posto_tarifario, dsc_unidade_terciaria, sig_agente_acessante"
)

# A row whose municipality (IBGE code: its first two digits are the UF's) lies outside the row's UF: the SQL
# twin of parsing.MUNICIPIO_OUTSIDE_UF, which quarantines such rows before they are staged.
UF_MISMATCH = (
    "cod_municipio_ibge - mod(cod_municipio_ibge, 100000) <> CASE sig_uf "
    + " ".join(f"WHEN '{uf}' THEN {code * 100_000}" for uf, code in IBGE_UF_CODES.items())
    + " END"
)

uf_scope = partition_column_scope("sig_uf")
year_scope = time_window_scope("dat_inicio_vigencia")  # tariffs by the year their validity starts


generation_units_checks = [
    sql_check(
        asset=GENERATION_UNITS,
        partitions_def=UF_PARTITIONS,
        name="unique_unit_ids",
        description="CodEmpreendimento is unique in the snapshot.",
        scope=uf_scope,
        rows_sql="SELECT cod_empreendimento, count(*) AS copies FROM {table} WHERE {scope} "
        "GROUP BY cod_empreendimento HAVING count(*) > 1",
    ),
    sql_check(
        asset=GENERATION_UNITS,
        partitions_def=UF_PARTITIONS,
        name="uf_matches_partition",
        description="Each row's municipality (IBGE code, whose first two digits are the UF's) lies in the UF of "
        "its partition. The UF inside CodEmpreendimento is not compared: it is the distributor's, and real "
        "units cross UF borders (e.g. GD.AL codes in BA).",
        scope=uf_scope,
        rows_sql="SELECT sig_uf, cod_empreendimento, cod_municipio_ibge FROM {table} WHERE {scope} "
        f"AND {UF_MISMATCH}",
    ),
    sql_check(
        asset=GENERATION_UNITS,
        partitions_def=UF_PARTITIONS,
        name="installed_kw_in_range",
        description="Installed power is in (0, 5000] kW (micro and mini generation).",
        scope=uf_scope,
        rows_sql="SELECT cod_empreendimento, mda_potencia_instalada_kw FROM {table} WHERE {scope} "
        "AND (mda_potencia_instalada_kw IS NULL OR mda_potencia_instalada_kw <= 0 "
        "OR mda_potencia_instalada_kw > 5000)",
    ),
    sql_check(
        asset=GENERATION_UNITS,
        partitions_def=UF_PARTITIONS,
        name="no_future_dates",
        description="No publication, reference-month or registration date after today (America/Sao_Paulo).",
        scope=uf_scope,
        rows_sql="SELECT cod_empreendimento, dat_geracao_conjunto_dados, anm_periodo_referencia, "
        "dth_atualiza_cadastral_empreend FROM {table} WHERE {scope} AND (dat_geracao_conjunto_dados > %s "
        "OR anm_periodo_referencia > %s OR dth_atualiza_cadastral_empreend > %s)",
        params=lambda: [today_in_brazil()] * 3,
    ),
]

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
