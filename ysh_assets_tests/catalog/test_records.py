"""The normalizations every adapter shares: BRL prices, powers, manufacturers, store test entries."""

import pytest

from ysh_assets.catalog.records import (
    is_test_entry,
    known_manufacturer_in,
    normalize_manufacturer,
    parse_brl,
    parse_power_w,
)


@pytest.mark.parametrize(
    ("text", "price"),
    [("R$ 1.347,65", 1347.65), ("1.347,65", 1347.65), ("R$ 899", 899.0), ("R$\xa02.507,99", 2507.99),
     ("2507.99", 2507.99), (2507.99, 2507.99), ("R$ 12.345.678,00", 12345678.0),
     ("Indisponível", None), ("1,347.65", None), ("", None), (None, None), ("R$ 1.34,65", None)],
)  # fmt: skip
def test_brl_prices_are_read_in_the_brazilian_format_only(text, price):
    assert parse_brl(text) == price


@pytest.mark.parametrize(
    ("text", "watts"),
    [("2x 620Wp DAH", 620.0), ("MICROINVERSOR DEYE 2.25KW", 2250.0), ("2,25 kW", 2250.0), ("2.220Wp", 2220.0),
     ("2.32kWp", 2320.0), ("1,24kWp", 1240.0), ("EX 0.475KW", 475.0), ("PAINEL 585W N-TYPE", 585.0),
     ("sem potência", None), (None, None)],
)  # fmt: skip
def test_powers_in_watts_with_thousands_dots_only_in_groups_of_three(text, watts):
    assert parse_power_w(text) == watts


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("CANADIAN SOLAR", "CANADIAN SOLAR"), ("Canadian", "CANADIAN SOLAR"), ("Canadian Solar Inc.", "CANADIAN SOLAR"),
     ("LONGI", "LONGI"), ("LONGi Green", "LONGI"), ("LONGi Green Energy Technology Co., Ltd.", "LONGI"),
     ("JA Solar", "JA SOLAR"), ("Fox ESS", "FOXESS"), ("Sofarsolar", "SOFAR"), ("  deye ", "DEYE"),
     ("Marca Nova Ltda", "MARCA NOVA LTDA"), ("", None), (None, None)],
)  # fmt: skip
def test_manufacturers_meet_across_spellings(spelling, canonical):
    assert normalize_manufacturer(spelling) == canonical


def test_a_manufacturer_named_in_free_text_and_store_test_entries():
    assert known_manufacturer_in("KP04 - ASTRONERGY | TIER 1 | 600W N-TYPE") == "ASTRONERGY"
    assert known_manufacturer_in("Módulo JA Solar 550W") == "JA SOLAR"
    assert known_manufacturer_in("Cabo solar 6mm") is None
    assert is_test_entry("Teste 3") and is_test_entry("TESTE") and is_test_entry("Produto teste")
    assert not is_test_entry("Inversor Testado") and not is_test_entry("Kit Solar 5kWp")
