-- Distributor catalogs: one snapshot per day and distributor (the multi-partition of catalog/products).
CREATE TABLE IF NOT EXISTS products.products (
    snapshot_date date NOT NULL,
    distributor text NOT NULL,
    product_id text NOT NULL,
    category text NOT NULL,
    name text NOT NULL,
    manufacturer text,
    model text,
    power_w numeric(12, 2),
    price_brl numeric(14, 2),
    availability text,
    url text,
    image_url text,
    description text,
    PRIMARY KEY (snapshot_date, distributor, product_id)
);
CREATE INDEX IF NOT EXISTS products_manufacturer_model_idx ON products.products (manufacturer, model);
CREATE INDEX IF NOT EXISTS products_category_idx ON products.products (category, snapshot_date);

CREATE TABLE IF NOT EXISTS products.solar_kits (
    snapshot_date date NOT NULL,
    distributor text NOT NULL,
    kit_id text NOT NULL,
    name text NOT NULL,
    kit_type text,
    system_power_kwp numeric(10, 3),
    price_brl numeric(14, 2),
    price_per_wp numeric(10, 4),
    mounting_structure text,
    distribution_center text,
    url text,
    PRIMARY KEY (snapshot_date, distributor, kit_id)
);
CREATE INDEX IF NOT EXISTS solar_kits_power_idx ON products.solar_kits (snapshot_date, system_power_kwp);

CREATE TABLE IF NOT EXISTS products.kit_components (
    snapshot_date date NOT NULL,
    distributor text NOT NULL,
    kit_id text NOT NULL,
    component_index smallint NOT NULL,
    component_type text NOT NULL,
    manufacturer text,
    model text,
    description text,
    quantity integer,
    power_w numeric(12, 2),
    PRIMARY KEY (snapshot_date, distributor, kit_id, component_index),
    FOREIGN KEY (snapshot_date, distributor, kit_id)
        REFERENCES products.solar_kits (snapshot_date, distributor, kit_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS kit_components_model_idx ON products.kit_components (manufacturer, model);
