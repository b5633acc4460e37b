-- ANEEL open data. Column names are the published headers in snake_case (mapped by name, never by
-- position); see ysh_assets/aneel/parsing.py for the alias map of older header variants.

-- One row per tracked CKAN resource per daily snapshot.
CREATE TABLE IF NOT EXISTS aneel.datasets (
    snapshot_date date NOT NULL,
    package_id text NOT NULL,
    package_name text,
    resource_id text NOT NULL,
    name text,
    format text,
    size_bytes bigint,
    last_modified timestamptz,
    ckan_hash text,
    url text NOT NULL,
    PRIMARY KEY (snapshot_date, resource_id)
);

-- Distributed-generation units (MMGD), list-partitioned by UF like the asset itself: replacing one
-- UF touches one partition and its indexes only. Code columns use the "C" collation: they are ASCII
-- identifiers, and byte order makes their index builds and lookups several times cheaper.
CREATE TABLE IF NOT EXISTS aneel.generation_units (
    sig_uf text COLLATE "C" NOT NULL,
    cod_empreendimento text COLLATE "C" NOT NULL,
    dat_geracao_conjunto_dados date,
    anm_periodo_referencia date,
    num_cnpj_distribuidora text COLLATE "C",
    sig_agente text,
    nom_agente text,
    cod_classe_consumo text,
    dsc_classe_consumo text,
    cod_sub_grupo_tarifario text,
    dsc_sub_grupo_tarifario text,
    cod_uf_ibge smallint,
    cod_regiao smallint,
    nom_regiao text,
    cod_municipio_ibge integer,
    nom_municipio text,
    cod_cep text,
    sig_tipo_consumidor text,
    num_cpf_cnpj text,
    nom_titular_empreendimento text,
    dth_atualiza_cadastral_empreend date,
    dth_atualiza_cadastral_sentinel boolean NOT NULL DEFAULT false,
    sig_modalidade_empreendimento text,
    dsc_modalidade_habilitado text,
    qtd_uc_recebe_credito integer,
    sig_tipo_geracao text,
    dsc_fonte_geracao text,
    dsc_porte text,
    num_coord_n_empreendimento double precision,
    num_coord_e_empreendimento double precision,
    mda_potencia_instalada_kw numeric(14, 3),
    nom_sub_estacao text,
    num_coord_e_sub double precision,
    num_coord_n_sub double precision,
    PRIMARY KEY (sig_uf, cod_empreendimento)
) PARTITION BY LIST (sig_uf);

DO $$
DECLARE
    uf text;
BEGIN
    FOREACH uf IN ARRAY ARRAY['AC','AL','AM','AP','BA','CE','DF','ES','GO','MA','MG','MS','MT','PA','PB',
                              'PE','PI','PR','RJ','RN','RO','RR','RS','SC','SE','SP','TO'] LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS aneel.%I PARTITION OF aneel.generation_units FOR VALUES IN (%L)',
                       'generation_units_' || lower(uf), uf);
    END LOOP;
END;
$$;

CREATE INDEX IF NOT EXISTS generation_units_municipio_idx ON aneel.generation_units (cod_municipio_ibge);
CREATE INDEX IF NOT EXISTS generation_units_distribuidora_idx ON aneel.generation_units (num_cnpj_distribuidora);

-- Distributor tariffs (homologated). Values stay in the published unit (R$/MWh or R$/kW) and are also
-- given as R$/kWh where the unit is MWh. tariff_key is a hash of the natural key of a row.
CREATE TABLE IF NOT EXISTS aneel.tariffs (
    dat_inicio_vigencia date NOT NULL,
    tariff_key text NOT NULL,
    dat_fim_vigencia date,
    dat_geracao_conjunto_dados date,
    dsc_reh text,
    sig_agente text,
    num_cnpj_distribuidora text NOT NULL,
    dsc_base_tarifaria text,
    dsc_sub_grupo text,
    dsc_modalidade_tarifaria text,
    dsc_classe text,
    dsc_sub_classe text,
    dsc_detalhe text,
    nom_posto_tarifario text,
    dsc_unidade_terciaria text,
    sig_agente_acessante text,
    vlr_tusd numeric(18, 6),
    vlr_te numeric(18, 6),
    vlr_tusd_rs_kwh numeric(18, 9),
    vlr_te_rs_kwh numeric(18, 9),
    is_tarifa_aplicacao boolean NOT NULL,
    is_scee boolean NOT NULL,
    PRIMARY KEY (dat_inicio_vigencia, tariff_key)
);
CREATE INDEX IF NOT EXISTS tariffs_distribuidora_idx
    ON aneel.tariffs (num_cnpj_distribuidora, dsc_sub_grupo, dsc_modalidade_tarifaria, dat_inicio_vigencia);

-- Equipment certifications (INMETRO registrations, CEC lists), partitioned by equipment type.
CREATE TABLE IF NOT EXISTS aneel.certifications (
    equipment_type text NOT NULL,
    certifier text NOT NULL,
    manufacturer text NOT NULL,
    model text NOT NULL,
    registration_id text,
    brand text,
    holder text,
    regulation text,
    status text,
    registered_year smallint,
    rated_power_w numeric(12, 2),
    description text,
    source text,
    PRIMARY KEY (equipment_type, certifier, manufacturer, model)
);
CREATE INDEX IF NOT EXISTS certifications_registration_idx ON aneel.certifications (registration_id);
