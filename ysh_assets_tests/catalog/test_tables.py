"""Adapter batches as table frames: components linked to products, price changes between two days."""

from datetime import date

import polars as pl

from ysh_assets.catalog.records import CatalogBatch, Kit, KitComponent, Product
from ysh_assets.catalog.tables import components_frame, link_components, price_changes, products_frame

DAY = date(2026, 12, 1)


def _product(product_id: str, category: str, manufacturer: str, model: str | None, power_w: float | None, price: float):
    return Product("fortlev", product_id, category, f"{manufacturer} {model}", manufacturer, model, power_w, price)


def test_components_link_to_the_one_product_of_the_same_model_or_else_the_same_power():
    products = products_frame(
        [
            CatalogBatch(
                "fortlev",
                "p.json",
                products=[
                    _product("p1", "module", "LONGI", "LR7-72HTH-630M", 630.0, 695.83),
                    _product("p2", "inverter", "GROWATT", "MIN 5000TL-X", 5000.0, 4000.0),
                    _product("p3", "inverter", "GROWATT", "MIN 5000TL-XH", 5000.0, 4500.0),
                    _product("p4", "module", "DMEGC", "DM610", 610.0, 600.0),
                ],
            )
        ],
        DAY,
    )
    kit = Kit(
        "fortlev",
        "k1",
        "1",
        "Kit",
        2.52,
        5000.0,
        components=[
            KitComponent("module", 4, "LONGi 630W", power_w=630.0, manufacturer="LONGI", model="LR7-72HTH-630M"),
            KitComponent("inverter", 1, "Growatt 5kW", power_w=5000.0, manufacturer="GROWATT"),  # two match: none
            KitComponent("module", 4, "DMEGC 610W", power_w=610.0, manufacturer="DMEGC"),  # by power
            KitComponent("module", 4, "JA 550W", power_w=550.0, manufacturer="JA SOLAR"),  # no such product
        ],
    )
    components = components_frame([CatalogBatch("fortlev", "k.json", kits=[kit])], DAY)
    linked = link_components(components, products)
    assert linked.columns == components.columns
    assert linked.sort("component_index")["product_id"].to_list() == ["p1", None, "p4", None]


def test_price_changes_are_the_products_priced_on_both_days_whose_price_moved():
    def day(on: date, prices: dict[str, float | None]) -> pl.DataFrame:
        return pl.DataFrame(
            {"product_id": list(prices), "price_brl": list(prices.values()), "snapshot_date": [on] * len(prices)}
        )

    before = day(date(2026, 11, 30), {"a": 100.0, "b": 200.0, "c": 300.0, "gone": 1.0, "later": None})
    after = day(DAY, {"a": 100.0, "b": 210.5, "c": None, "new": 5.0, "later": 7.0})
    changes = price_changes(before, after)
    assert changes.to_dicts() == [
        {
            "entity_id": "b",
            "change_type": "update",
            "old_values": '{"price_brl":200.0,"day":"2026-11-30"}',
            "new_values": '{"price_brl":210.5,"day":"2026-12-01"}',
        }
    ]
