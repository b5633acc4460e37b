-- name: products
-- Each distributor's latest day, with whether the product matched a certification list and how surely.
SELECT p.snapshot_date, p.distributor, p.product_id, p.category, p.name, p.manufacturer, p.model, p.power_w,
       p.price_brl, p.url, p.description,
       coalesce(l.match_kind, 'none') <> 'none' AS certified, l.confidence AS match_confidence
FROM products.products p
JOIN (SELECT distributor, max(snapshot_date) AS day FROM products.products GROUP BY distributor) latest
  ON latest.distributor = p.distributor AND latest.day = p.snapshot_date
LEFT JOIN products.certification_links l
  ON l.snapshot_date = p.snapshot_date AND l.distributor = p.distributor AND l.product_id = p.product_id
ORDER BY p.distributor, p.product_id;

-- name: kits
SELECT k.snapshot_date, k.distributor, k.kit_id, k.name, k.kit_type, k.system_power_kwp, k.price_brl, k.url
FROM products.solar_kits k
JOIN (SELECT distributor, max(snapshot_date) AS day FROM products.solar_kits GROUP BY distributor) latest
  ON latest.distributor = k.distributor AND latest.day = k.snapshot_date
ORDER BY k.distributor, k.kit_id;

-- name: kit_components
SELECT c.snapshot_date, c.distributor, c.kit_id, c.component_index, c.manufacturer, c.model, c.quantity
FROM products.kit_components c
JOIN (SELECT distributor, max(snapshot_date) AS day FROM products.solar_kits GROUP BY distributor) latest
  ON latest.distributor = c.distributor AND latest.day = c.snapshot_date;

-- name: specs
-- Every model of every extracted datasheet, with the file it came from.
SELECT s.sha256, s.model, s.manufacturer, s.equipment_type, s.pmax_w, s.ac_power_w, s.usable_kwh,
       s.efficiency_pct, s.provenance, d.filename, d.object_key
FROM products.datasheet_specs s JOIN products.datasheets d USING (sha256)
WHERE d.status = 'extracted'
ORDER BY s.sha256, s.model;
