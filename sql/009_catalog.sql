-- What the distributor adapters read beyond sql/003's first cut: electrical details and the raw record of
-- each product, the source's own kit id beside ours, and how each kit component was counted and linked.
ALTER TABLE products.products ADD COLUMN IF NOT EXISTS phases smallint;
ALTER TABLE products.products ADD COLUMN IF NOT EXISTS voltage_v integer;
ALTER TABLE products.products ADD COLUMN IF NOT EXISTS efficiency_pct double precision;
ALTER TABLE products.products ADD COLUMN IF NOT EXISTS raw_record jsonb;

ALTER TABLE products.solar_kits ADD COLUMN IF NOT EXISTS source_kit_id text;
ALTER TABLE products.solar_kits ADD COLUMN IF NOT EXISTS raw_record jsonb;

-- quantity_derived: the source gave no quantity; it was derived from the kit's kWp and the module power.
ALTER TABLE products.kit_components ADD COLUMN IF NOT EXISTS quantity_derived boolean NOT NULL DEFAULT false;
ALTER TABLE products.kit_components ADD COLUMN IF NOT EXISTS product_id text;

-- The CEC lists' own name and module STC values (for comparing with datasheets), and the inverter AC voltage.
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS cec_name text;
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS v_oc_ref double precision;
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS i_sc_ref double precision;
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS v_mp_ref double precision;
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS i_mp_ref double precision;
ALTER TABLE aneel.certifications ADD COLUMN IF NOT EXISTS vac_v double precision;

-- Each product's best certification per day: how it was found (exact, family, fuzzy, none) and how sure.
CREATE TABLE IF NOT EXISTS products.certification_links (
    snapshot_date date NOT NULL,
    distributor text NOT NULL,
    product_id text NOT NULL,
    category text NOT NULL,
    manufacturer text,
    model text,
    power_w double precision,
    certifier text,
    registration_id text,
    certified_manufacturer text,
    certified_model text,
    certified_power_w double precision,
    certified_equipment_type text,
    match_kind text NOT NULL CHECK (match_kind IN ('exact', 'family', 'fuzzy', 'none')),
    confidence double precision NOT NULL,
    PRIMARY KEY (snapshot_date, distributor, product_id)
);
CREATE INDEX IF NOT EXISTS certification_links_kind_idx ON products.certification_links (match_kind, category);
