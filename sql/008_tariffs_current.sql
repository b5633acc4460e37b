-- The tariff in force today per distributor and tariff position: the warehouse copy of the Redis lookup
-- `aneel/tariffs_current`, replaced whole by each run (types as in aneel.tariffs, which it traces back to).
CREATE TABLE IF NOT EXISTS aneel.tariffs_current (
    num_cnpj_distribuidora text NOT NULL,
    dsc_sub_grupo text,
    dsc_modalidade_tarifaria text,
    nom_posto_tarifario text,
    dsc_classe text,
    dsc_sub_classe text,
    dsc_detalhe text,
    dsc_unidade_terciaria text,
    sig_agente_acessante text,
    tariff_key text NOT NULL,
    sig_agente text,
    dat_inicio_vigencia date NOT NULL,
    dat_fim_vigencia date,
    dsc_reh text,
    vlr_tusd numeric(18, 6),
    vlr_te numeric(18, 6),
    vlr_tusd_rs_kwh numeric(18, 9),
    vlr_te_rs_kwh numeric(18, 9),
    is_scee boolean NOT NULL,
    in_force_on date NOT NULL
);
