"""The database view and the domains' tools: copy-on-write, exact hashing, the policy's rules."""

from __future__ import annotations

import json

import pytest

from selfgym.envs.customer_service.data import load_base_db
from selfgym.envs.customer_service.db import Database, full_hash
from selfgym.envs.customer_service.reward import new_domain
from selfgym.tools import ToolCall


def call(tools, name, **arguments):
    return tools.execute(ToolCall(name, arguments))


def find_order(domain: str, status: str, source: str | None = None):
    """An order with ``status`` (optionally paid by a method of ``source``) from the base data."""
    base = load_base_db(domain)
    for order in base["orders"].values():
        if order["status"] != status or len(order["payment_history"]) != 1:
            continue
        method = base["users"][order["user_id"]]["payment_methods"][order["payment_history"][0]["payment_method_id"]]
        if source is None or method["source"] == source:
            return order
    raise AssertionError(f"no {status} order paid by {source}")


def test_edit_copies_and_hash_tracks_only_real_changes():
    base = load_base_db("retail")
    before = full_hash(base)
    db = Database(base)
    empty = db.state_hash()
    user_id = next(iter(base["users"]))
    old_zip = base["users"][user_id]["address"]["zip"]
    db.edit("users", user_id)["address"]["zip"] = "00000"
    assert db.get("users", user_id)["address"]["zip"] == "00000"
    assert base["users"][user_id]["address"]["zip"] == old_zip
    assert db.state_hash() != empty
    db.edit("users", user_id)["address"]["zip"] = old_zip  # back to the base value: same state again
    assert db.state_hash() == empty and db.diff() == {}
    db.insert("users", "new_user_1", {"user_id": "new_user_1"})
    assert ("users", "new_user_1") in db and [r["user_id"] for r in db.rows("users")][-1] == "new_user_1"
    assert full_hash(base) == before


def test_tool_schemas_are_openai_functions():
    for domain in ("retail", "airline"):
        _, tools = new_domain(domain)
        for schema in tools.schemas():
            fn = schema["function"]
            assert schema["type"] == "function" and fn["description"]
            assert fn["parameters"]["type"] == "object"
            assert set(fn["parameters"]["required"]) <= set(fn["parameters"]["properties"])
    _, retail = new_domain("retail")
    assert retail.tools["exchange_delivered_order_items"].parameters["properties"]["item_ids"]["type"] == "array"


def test_retail_cancel_refunds_gift_card_and_refuses_twice():
    order = find_order("retail", "pending", "gift_card")
    domain, tools = new_domain("retail")
    card = order["payment_history"][0]["payment_method_id"]
    balance = domain.db.get("users", order["user_id"])["payment_methods"][card]["balance"]
    bad = call(tools, "cancel_pending_order", order_id=order["order_id"], reason="too expensive")
    assert not bad.ok and "reason must be one of" in bad.error
    ok = call(tools, "cancel_pending_order", order_id=order["order_id"], reason="no longer needed")
    assert ok.ok and json.loads(ok.content)["status"] == "cancelled"
    after = domain.db.get("users", order["user_id"])["payment_methods"][card]["balance"]
    assert after == round(balance + order["payment_history"][0]["amount"], 2)
    again = call(tools, "cancel_pending_order", order_id=order["order_id"], reason="no longer needed")
    assert not again.ok and "only pending orders" in again.error


def test_retail_exchange_keeps_product_type_and_checks_status():
    delivered = find_order("retail", "delivered")
    pending = find_order("retail", "pending")
    products = load_base_db("retail")["products"]
    item = delivered["items"][0]
    other_product = next(p for pid, p in products.items() if pid != item["product_id"])
    foreign_item = next(iter(other_product["variants"]))
    method = delivered["payment_history"][0]["payment_method_id"]
    _, tools = new_domain("retail")
    wrong_type = call(tools, "exchange_delivered_order_items", order_id=delivered["order_id"], item_ids=[item["item_id"]],
                      new_item_ids=[foreign_item], payment_method_id=method)
    assert not wrong_type.ok and "keep the product type" in wrong_type.error
    not_delivered = call(tools, "exchange_delivered_order_items", order_id=pending["order_id"],
                         item_ids=[pending["items"][0]["item_id"]], new_item_ids=[foreign_item],
                         payment_method_id=pending["payment_history"][0]["payment_method_id"])
    assert not not_delivered.ok and "only delivered orders" in not_delivered.error
    same = next(v for v in products[item["product_id"]]["variants"].values()
                if v["available"] and v["item_id"] != item["item_id"])
    done = call(tools, "exchange_delivered_order_items", order_id=delivered["order_id"], item_ids=[item["item_id"]],
                new_item_ids=[same["item_id"]], payment_method_id=method)
    assert done.ok, done.error
    result = json.loads(done.content)
    assert result["status"] == "exchange requested"
    assert result["exchange_price_difference"] == round(same["price"] - item["price"], 2)


def test_retail_return_goes_to_original_method_or_gift_card():
    order = find_order("retail", "delivered", "credit_card")
    user = load_base_db("retail")["users"][order["user_id"]]
    other = [m for m, v in user["payment_methods"].items()
             if v["source"] != "gift_card" and m != order["payment_history"][0]["payment_method_id"]]
    _, tools = new_domain("retail")
    items = [order["items"][0]["item_id"]]
    if other:
        refused = call(tools, "return_delivered_order_items", order_id=order["order_id"], item_ids=items,
                       payment_method_id=other[0])
        assert not refused.ok and "original payment method" in refused.error
    missing = call(tools, "return_delivered_order_items", order_id=order["order_id"], item_ids=["0000000000"],
                   payment_method_id=order["payment_history"][0]["payment_method_id"])
    assert not missing.ok and "is not in order" in missing.error
    ok = call(tools, "return_delivered_order_items", order_id=order["order_id"], item_ids=items,
              payment_method_id=order["payment_history"][0]["payment_method_id"])
    assert ok.ok and json.loads(ok.content)["return_items"] == items


def test_wrong_argument_types_and_unknown_tools_are_error_results():
    _, tools = new_domain("retail")
    assert "must be a string" in call(tools, "get_order_details", order_id=5).error
    assert "missing required argument" in call(tools, "get_order_details").error
    assert "unknown tool" in tools.execute(ToolCall("get_orders", {})).error
    assert call(tools, "calculate", expression="(2 + 3) * 4.5").content == "22.5"
    assert "division by zero" in call(tools, "calculate", expression="1/0").error
    assert not call(tools, "calculate", expression="__import__('os')").ok


def _airline_user_with(source: str):
    base = load_base_db("airline")
    for user in base["users"].values():
        methods = [m for m in user["payment_methods"].values() if m["source"] == source]
        if methods:
            return user, methods[0]
    raise AssertionError(source)


def _available_flight(cabin: str = "economy"):
    for flight in load_base_db("airline")["flights"].values():
        for date, day in flight["dates"].items():
            if day["status"] == "available" and day["available_seats"][cabin] >= 2:
                return flight, date, day
    raise AssertionError("no available flight")


def test_airline_booking_checks_payment_and_takes_seats_deterministically():
    user, card = _airline_user_with("credit_card")
    flight, date, day = _available_flight()
    price = day["prices"]["economy"]
    args = dict(user_id=user["user_id"], origin=flight["origin"], destination=flight["destination"],
                flight_type="one_way", cabin="economy", flights=[{"flight_number": flight["flight_number"], "date": date}],
                passengers=[{"first_name": "Ann", "last_name": "Lee", "dob": "1990-01-01"}],
                total_baggages=0, nonfree_baggages=0, insurance="yes")
    hashes = []
    for _ in range(2):
        domain, tools = new_domain("airline")
        short = call(tools, "book_reservation", payment_methods=[{"payment_id": card["id"], "amount": price}], **args)
        assert not short.ok and f"total price is {price + 30}" in short.error
        ok = call(tools, "book_reservation", payment_methods=[{"payment_id": card["id"], "amount": price + 30}], **args)
        assert ok.ok, ok.error
        reservation = json.loads(ok.content)
        assert reservation["reservation_id"] in domain.db.get("users", user["user_id"])["reservations"]
        seats = domain.db.get("flights", flight["flight_number"])["dates"][date]["available_seats"]["economy"]
        assert seats == day["available_seats"]["economy"] - 1
        hashes.append(domain.db.state_hash())
    assert hashes[0] == hashes[1]


def test_airline_changes_refuse_certificates_and_bag_removal():
    base = load_base_db("airline")
    reservation = next(r for r in base["reservations"].values() if r["total_baggages"] > 0 and r.get("status") != "cancelled")
    user = base["users"][reservation["user_id"]]
    domain, tools = new_domain("airline")
    fewer = call(tools, "update_reservation_baggages", reservation_id=reservation["reservation_id"],
                 total_baggages=reservation["total_baggages"] - 1, nonfree_baggages=0,
                 payment_id=next(iter(user["payment_methods"])))
    assert not fewer.ok and "not removed" in fewer.error
    certificate = domain.db.get("users", user["user_id"])
    call(tools, "send_certificate", user_id=user["user_id"], amount=100)
    cert_id = [m for m, v in domain.db.get("users", user["user_id"])["payment_methods"].items()
               if v["source"] == "certificate" and m not in certificate["payment_methods"]][0]
    paid = call(tools, "update_reservation_baggages", reservation_id=reservation["reservation_id"],
                total_baggages=reservation["total_baggages"] + 1, nonfree_baggages=reservation["nonfree_baggages"] + 1,
                payment_id=cert_id)
    assert not paid.ok and "certificate cannot pay" in paid.error
    count = call(tools, "update_reservation_passengers", reservation_id=reservation["reservation_id"],
                 passengers=reservation["passengers"] + [{"first_name": "A", "last_name": "B", "dob": "2000-01-01"}])
    assert not count.ok and "cannot change" in count.error


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_search_and_lookup_tools_answer(domain):
    _, tools = new_domain(domain)
    if domain == "retail":
        user = next(iter(load_base_db("retail")["users"].values()))
        assert call(tools, "find_user_id_by_email", email=user["email"].upper()).content == user["user_id"]
        found = call(tools, "find_user_id_by_name_zip", first_name=user["name"]["first_name"],
                     last_name=user["name"]["last_name"], zip=user["address"]["zip"])
        assert found.content == user["user_id"]
        assert len(json.loads(call(tools, "list_all_product_types").content)) == 50
    else:
        flight, date, _ = _available_flight()
        found = json.loads(call(tools, "search_direct_flight", origin=flight["origin"],
                                destination=flight["destination"], date=date).content)
        assert flight["flight_number"] in [f["flight_number"] for f in found]
        assert call(tools, "get_flight_status", flight_number=flight["flight_number"], date=date).content == "available"
        assert len(json.loads(call(tools, "list_all_airports").content)) >= 10
