-- Manufacturer datasheets: one row per PDF (by content sha256) and one per model it describes. Each spec
-- value keeps where it came from: `provenance` maps field -> {"page": n, "source": "rules" | "llm"}; values
-- an LLM proposed that differ from the rules' are kept in `llm_values`, never silently overwritten.
CREATE TABLE IF NOT EXISTS products.datasheets (
    sha256 text COLLATE "C" PRIMARY KEY,
    filename text NOT NULL,
    object_key text,
    size_bytes bigint NOT NULL,
    pages integer,
    has_text_layer boolean,
    status text NOT NULL CHECK (status IN ('extracted', 'quarantined')),
    quarantine_reason text,
    manufacturer text,
    equipment_type text,
    certifications jsonb NOT NULL DEFAULT '[]'::jsonb,
    models integer NOT NULL DEFAULT 0,
    extractor text NOT NULL,
    llm_status text,
    llm_detail text,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS datasheets_manufacturer_idx ON products.datasheets (manufacturer, equipment_type);

CREATE TABLE IF NOT EXISTS products.datasheet_specs (
    sha256 text COLLATE "C" NOT NULL REFERENCES products.datasheets (sha256) ON DELETE CASCADE,
    model text NOT NULL,
    manufacturer text,
    equipment_type text,
    pmax_w double precision,
    vmp_v double precision,
    imp_a double precision,
    voc_v double precision,
    isc_a double precision,
    efficiency_pct double precision,
    temp_coeff_pmax_pct_per_c double precision,
    temp_coeff_voc_pct_per_c double precision,
    temp_coeff_isc_pct_per_c double precision,
    length_mm double precision,
    width_mm double precision,
    thickness_mm double precision,
    weight_kg double precision,
    ac_power_w double precision,
    max_dc_voltage_v double precision,
    mppt_count integer,
    mppt_min_v double precision,
    mppt_max_v double precision,
    max_efficiency_pct double precision,
    phases integer,
    usable_kwh double precision,
    nominal_voltage_v double precision,
    provenance jsonb NOT NULL DEFAULT '{}'::jsonb,
    llm_values jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (sha256, model)
);
CREATE INDEX IF NOT EXISTS datasheet_specs_model_idx ON products.datasheet_specs (manufacturer, model);
