"""Shop domain: a product catalogue and an order calculator (coupons, shipping, sales tax).

The catalogue, coupons, shipping and tax rules below are the domain's own, fixed data.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "shop"
DESCRIPTION = "a product catalogue and order calculator"

# sku: (name, category, unit price in USD, weight in kg, units in stock)
CATALOGUE = {
    "K-100": ("Stainless Kettle", "kitchen", 34.90, 1.20, 12),
    "K-210": ("Chef Knife", "kitchen", 58.00, 0.35, 7),
    "K-305": ("Cast Iron Pan", "kitchen", 42.50, 2.60, 9),
    "K-410": ("Bamboo Cutting Board", "kitchen", 18.75, 0.90, 30),
    "O-120": ("Desk Lamp", "office", 27.40, 1.10, 15),
    "O-230": ("Ergonomic Mouse", "office", 39.99, 0.15, 25),
    "O-340": ("Notebook Pack", "office", 12.60, 0.80, 60),
    "O-450": ("Monitor Stand", "office", 64.00, 3.40, 6),
    "G-110": ("Garden Hose", "garden", 29.95, 2.20, 11),
    "G-220": ("Pruning Shears", "garden", 22.30, 0.40, 18),
    "G-330": ("Seed Starter Kit", "garden", 15.80, 0.70, 40),
    "S-140": ("Yoga Mat", "sport", 25.00, 1.50, 20),
    "S-250": ("Water Bottle", "sport", 14.20, 0.30, 50),
    "S-360": ("Jump Rope", "sport", 9.90, 0.25, 35),
    "S-470": ("Dumbbell Pair", "sport", 79.00, 8.00, 4),
}
COUPONS = {
    "SAVE10": "10% off any order",
    "FLAT15": "15 USD off orders of at least 75 USD",
    "BULK20": "20% off orders of at least 200 USD",
}
# zone: (base fee, fee per started kilogram), USD
SHIPPING = {"domestic": (4.0, 1.25), "europe": (12.0, 3.5), "world": (20.0, 6.0)}
TAX_RATE = {"none": 0.0, "standard": 0.08, "reduced": 0.05}


def _product(sku: str) -> tuple:
    item = CATALOGUE.get(sku.strip().upper())
    if item is None:
        raise ToolError(f"no product with sku {sku!r}; use search_products to find skus")
    return item


def search_products(query: str = "", category: str | None = None) -> list[dict[str, Any]]:
    """Products whose name contains query (case-insensitive), optionally in one category.

    Args:
        query: part of a product name; empty lists everything.
        category: kitchen, office, garden or sport; omit for all.
    """
    q = query.strip().lower()
    return [{"sku": sku, "name": n, "category": c, "price": p}
            for sku, (n, c, p, _, _) in CATALOGUE.items()
            if q in n.lower() and (category is None or c == category.strip().lower())]


def get_product(sku: str) -> dict[str, Any]:
    """Everything about one product: name, category, unit price (USD), weight (kg) and stock.

    Args:
        sku: the product's sku, e.g. K-100.
    """
    n, c, p, w, s = _product(sku)
    return {"sku": sku.strip().upper(), "name": n, "category": c, "price": p, "weight_kg": w, "stock": s}


def line_total(sku: str, quantity: int) -> float:
    """Price of quantity units of a product (2 decimals); fails when stock is short.

    Args:
        sku: the product's sku.
        quantity: units wanted (1 or more).
    """
    n, _, p, _, stock = _product(sku)
    if quantity < 1:
        raise ToolError("quantity must be 1 or more")
    if quantity > stock:
        raise ToolError(f"only {stock} unit(s) of {n} in stock")
    return round(p * quantity, 2)


def add(numbers: list[float]) -> float:
    """The sum of a list of numbers (2 decimals).

    Args:
        numbers: the numbers to add.
    """
    return round(sum(numbers), 2)


def multiply(a: float, b: float) -> float:
    """The product a * b (4 decimals).

    Args:
        a: first factor.
        b: second factor.
    """
    return round(a * b, 4)


def apply_coupon(subtotal: float, code: str) -> float:
    """The subtotal after a coupon (2 decimals). Coupons: SAVE10 10% off; FLAT15 15 USD off from 75 USD; BULK20 20% off from 200 USD.

    Args:
        subtotal: order subtotal in USD.
        code: the coupon code.
    """
    code = code.strip().upper()
    if code not in COUPONS:
        raise ToolError(f"unknown coupon {code!r}; valid: {', '.join(COUPONS)}")
    if code == "SAVE10":
        return round(subtotal * 0.9, 2)
    if code == "FLAT15":
        if subtotal < 75:
            raise ToolError("FLAT15 needs a subtotal of at least 75 USD")
        return round(subtotal - 15, 2)
    if subtotal < 200:
        raise ToolError("BULK20 needs a subtotal of at least 200 USD")
    return round(subtotal * 0.8, 2)


def shipping_cost(weight_kg: float, zone: Literal["domestic", "europe", "world"]) -> float:
    """Shipping fee in USD: the zone's base fee plus a fee per started kilogram.

    Args:
        weight_kg: total parcel weight.
        zone: domestic, europe or world.
    """
    base, per_kg = SHIPPING[zone]
    started = int(-(-weight_kg // 1)) if weight_kg > 0 else 0
    return round(base + per_kg * started, 2)


def add_tax(amount: float, rate: Literal["none", "standard", "reduced"]) -> float:
    """The amount with sales tax added (standard 8%, reduced 5%, none 0%), 2 decimals.

    Args:
        amount: the amount before tax, USD.
        rate: none, standard or reduced.
    """
    return round(amount * (1 + TAX_RATE[rate]), 2)


def toolset() -> ToolSet:
    return ToolSet([search_products, get_product, line_total, add, multiply, apply_coupon, shipping_cost, add_tax])


# ------------------------------------------------------------------------------ templates
def _two(rng: np.random.Generator) -> list[str]:
    return [list(CATALOGUE)[int(i)] for i in rng.choice(len(CATALOGUE), size=2, replace=False)]


def _find(call, sku: str) -> str:
    name = CATALOGUE[sku][0]
    hits = call("search_products", query=name.split()[-1].lower())
    return next(h["sku"] for h in hits if h["name"] == name)


def coupon_order(rng: np.random.Generator, call) -> tuple[str, float, str]:
    a, b = _two(rng)
    qa, qb = int(rng.integers(1, min(5, CATALOGUE[a][4]) + 1)), int(rng.integers(1, min(5, CATALOGUE[b][4]) + 1))
    subtotal = call("add", numbers=[call("line_total", sku=_find(call, a), quantity=qa),
                                    call("line_total", sku=_find(call, b), quantity=qb)])
    code = "BULK20" if subtotal >= 200 else "FLAT15" if subtotal >= 75 else "SAVE10"
    total = call("apply_coupon", subtotal=subtotal, code=code)
    prompt = (f"An order has {qa} x {CATALOGUE[a][0]} and {qb} x {CATALOGUE[b][0]}, and the customer uses coupon "
              f"{code}. What is the order total in USD after the coupon (before shipping and tax)?")
    return prompt, total, "number"


def parcel_shipping(rng: np.random.Generator, call) -> tuple[str, float, str]:
    sku = list(CATALOGUE)[int(rng.integers(len(CATALOGUE)))]
    qty = int(rng.integers(1, min(6, CATALOGUE[sku][4]) + 1))
    zone = ("domestic", "europe", "world")[int(rng.integers(3))]
    weight = call("multiply", a=call("get_product", sku=_find(call, sku))["weight_kg"], b=qty)
    answer = call("shipping_cost", weight_kg=weight, zone=zone)
    prompt = f"How much does it cost in USD to ship {qty} x {CATALOGUE[sku][0]} in one parcel to the {zone} zone?"
    return prompt, answer, "number"


def cheapest_in_category(rng: np.random.Generator, call) -> tuple[str, float, str]:
    category = ("kitchen", "office", "garden", "sport")[int(rng.integers(4))]
    rate = ("standard", "reduced")[int(rng.integers(2))]
    qty = int(rng.integers(2, 4))
    cheapest = min(call("search_products", query="", category=category), key=lambda p: (p["price"], p["sku"]))
    answer = call("add_tax", amount=call("line_total", sku=cheapest["sku"], quantity=qty), rate=rate)
    prompt = (f"A customer buys {qty} units of the cheapest product in the {category} category. What do they pay "
              f"in USD with the {rate} sales tax rate added?")
    return prompt, answer, "number"


def heavier_order(rng: np.random.Generator, call) -> tuple[str, str, str]:
    a, b = _two(rng)
    qa, qb = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    wa = call("get_product", sku=_find(call, a))["weight_kg"] * qa
    wb = call("get_product", sku=_find(call, b))["weight_kg"] * qb
    if abs(wa - wb) < 1e-9:
        qa += 1
        wa += CATALOGUE[a][3]
    answer = CATALOGUE[a][0] if wa > wb else CATALOGUE[b][0]
    prompt = (f"Which weighs more in total: {qa} x {CATALOGUE[a][0]} or {qb} x {CATALOGUE[b][0]}? "
              "Answer with the product name.")
    return prompt, answer, "text"


def full_checkout(rng: np.random.Generator, call) -> tuple[str, float, str]:
    sku = list(CATALOGUE)[int(rng.integers(len(CATALOGUE)))]
    qty = int(rng.integers(1, min(4, CATALOGUE[sku][4]) + 1))
    found = _find(call, sku)
    goods = call("add_tax", amount=call("apply_coupon", subtotal=call("line_total", sku=found, quantity=qty),
                                        code="SAVE10"), rate="standard")
    weight = call("multiply", a=call("get_product", sku=found)["weight_kg"], b=qty)
    total = call("add", numbers=[goods, call("shipping_cost", weight_kg=weight, zone="domestic")])
    prompt = (f"Check out {qty} x {CATALOGUE[sku][0]} with coupon SAVE10, standard sales tax on the discounted "
              "goods, and domestic shipping (not taxed). What is the total in USD?")
    return prompt, total, "number"


TEMPLATES = [coupon_order, parcel_shipping, cheapest_in_category, heavier_order, full_checkout]
