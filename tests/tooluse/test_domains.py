"""The domains' tools compute known values (checked by hand or from definitions), and fail clearly."""

from __future__ import annotations

import pytest

from selfgym.envs.tooluse.domains import DOMAINS, cipher, dates, dna, shop, travel, units
from selfgym.tools import ToolCall, ToolError


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_every_tool_is_fully_described(name):
    ts = DOMAINS[name].toolset()
    assert len(ts) >= 5 and len(DOMAINS[name].TEMPLATES) >= 4
    for schema in ts.schemas():
        fn = schema["function"]
        assert fn["description"] and "``" not in fn["description"]
        for pname, p in fn["parameters"]["properties"].items():
            assert p.get("description"), f"{name}.{fn['name']}({pname}) has no description"


def test_units():
    assert units.convert_length(1, "mi", "km") == 1.609344
    assert units.convert_mass(1, "lb", "g") == 453.59237
    assert units.convert_volume(1, "gal", "l") == 3.785412
    assert units.convert_temperature(212, "F", "C") == 100.0
    assert units.convert_temperature(0, "C", "K") == 273.15
    assert units.exchange(100, "EUR", "USD") == 108.0
    assert units.calculate(7, "/", 2) == 3.5 and units.round_number(2.345678, 3) == 2.346
    with pytest.raises(ToolError, match="unknown currency 'XYZ'"):
        units.exchange(1, "XYZ", "USD")
    with pytest.raises(ToolError, match="division by zero"):
        units.calculate(1, "/", 0)
    with pytest.raises(ToolError, match="unknown length unit 'parsec'"):
        units.convert_length(1, "parsec", "m")


def test_dates():
    assert dates.weekday("2024-01-01") == "Monday"
    assert dates.add_days("2024-02-28", 1) == "2024-02-29"
    assert dates.add_months("2024-01-31", 1) == "2024-02-29"
    assert dates.add_months("2023-01-31", 1) == "2023-02-28"
    assert dates.add_months("2023-03-15", -3) == "2022-12-15"
    assert dates.days_between("2024-01-01", "2025-01-01") == 366
    assert dates.next_weekday("2024-01-01", "Monday") == "2024-01-08"
    assert dates.next_weekday("2024-01-01", "Wednesday") == "2024-01-03"
    assert dates.add_business_days("2024-01-05", 1) == "2024-01-08"
    assert dates.iso_week("2021-01-03") == 53
    with pytest.raises(ToolError, match="not a date in YYYY-MM-DD form"):
        dates.weekday("03/01/2024")


def test_travel():
    assert 870 < travel.distance_km("Paris", "Berlin") < 885  # about 878 km
    flights = travel.find_flights("lisbon", "Rome")
    assert len(flights) >= 2 and flights == sorted(flights, key=lambda f: f["depart"])
    info = travel.flight_info(flights[0]["flight"])
    h, m = map(int, info["depart"].split(":"))
    ah, am = map(int, info["arrive"].rstrip("+1").split(":"))
    assert ((ah * 60 + am) - (h * 60 + m)) % (24 * 60) == info["duration_min"]
    hotel = travel.list_hotels("Paris")[0]
    assert travel.hotel_quote(hotel["hotel"], 3) == round((hotel["nightly_price"] + 4.25) * 3, 2)
    assert all(h["stars"] >= 4 for h in travel.list_hotels("Paris", min_stars=4))
    with pytest.raises(ToolError, match="unknown city 'Atlantis'"):
        travel.find_flights("Atlantis", "Rome")


def test_cipher():
    assert cipher.caesar_shift("abc XYZ!", 3) == "def ABC!"
    assert cipher.caesar_shift(cipher.caesar_shift("river", 11), -11) == "river"
    assert cipher.atbash("Hello") == "Svool"
    assert cipher.base64_encode("hi") == "aGk=" and cipher.base64_decode("aGk=") == "hi"
    assert cipher.morse_encode("sos 1") == "... --- ... / .----"
    assert cipher.morse_decode("... --- ... / .----") == "sos 1"
    assert cipher.count_letters("Banana", "a") == 3
    with pytest.raises(ToolError, match="not valid Base64"):
        cipher.base64_decode("a$b")


def test_shop():
    assert [p["sku"] for p in shop.search_products("kettle")] == ["K-100"]
    assert len(shop.search_products("", category="sport")) == 4
    assert shop.line_total("O-340", 3) == 37.8
    assert shop.apply_coupon(100, "FLAT15") == 85 and shop.apply_coupon(250, "BULK20") == 200
    assert shop.shipping_cost(2.1, "europe") == 22.5 and shop.shipping_cost(2.0, "europe") == 19.0
    assert shop.add_tax(100, "standard") == 108.0
    with pytest.raises(ToolError, match="BULK20 needs a subtotal of at least 200"):
        shop.apply_coupon(150, "BULK20")
    with pytest.raises(ToolError, match="only 4 unit"):
        shop.line_total("S-470", 5)


def test_dna():
    assert len(dna.CODON_TABLE) == 64 and sorted(c for c, a in dna.CODON_TABLE.items() if a == "*") == ["TAA", "TAG", "TGA"]
    assert dna.CODON_TABLE["ATG"] == "M" and dna.CODON_TABLE["TGG"] == "W" and dna.CODON_TABLE["GGC"] == "G"
    assert dna.reverse_complement("ATGC") == "GCAT"
    assert dna.transcribe("ATGC") == "AUGC"
    assert dna.translate("AUGGCCUAAGG") == "MA" and dna.translate("ATGGCCTAAGGG", to_stop=False) == "MA*G"
    assert dna.gc_content("GGCA") == 75.0
    assert dna.count_motif("AAAA", "AA") == 3 and dna.find_motif("AAAA", "AA") == [1, 2, 3]
    with pytest.raises(ToolError, match="only A, C, G, T"):
        dna.gc_content("ATXG")


def test_domain_errors_reach_the_agent_as_messages():
    r = DOMAINS["dna"].toolset().execute(ToolCall("translate", {"seq": "HELLO"}))
    assert not r.ok and r.content.startswith("Error: a sequence may hold only A, C, G, T")
