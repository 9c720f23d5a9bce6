"""Units domain: length, mass, volume, temperature and currency conversion, plus a calculator.

Conversion factors are the exact SI definitions. Exchange rates are a fixed table made up for
this domain (USD per unit), not market data, so answers never change.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "units"
DESCRIPTION = "unit and currency conversion with a calculator"

LENGTH_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048,
            "yd": 0.9144, "mi": 1609.344}
MASS_KG = {"mg": 1e-6, "g": 0.001, "kg": 1.0, "t": 1000.0, "oz": 0.028349523125, "lb": 0.45359237}
VOLUME_L = {"ml": 0.001, "l": 1.0, "gal": 3.785411784, "qt": 0.946352946, "cup": 0.2365882365,
            "floz": 0.0295735295625}
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.13, "CAD": 0.73,
                "AUD": 0.66, "INR": 0.012}


def _convert(value: float, src: str, dst: str, table: dict[str, float], kind: str) -> float:
    for unit in (src, dst):
        if unit not in table:
            raise ToolError(f"unknown {kind} unit {unit!r}; known: {', '.join(table)}")
    return round(value * table[src] / table[dst], 6)


def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between units (mm, cm, m, km, in, ft, yd, mi); 6 decimals.

    Args:
        value: the length in from_unit.
        from_unit: unit of value.
        to_unit: unit of the result.
    """
    return _convert(value, from_unit, to_unit, LENGTH_M, "length")


def convert_mass(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a mass between units (mg, g, kg, t, oz, lb); 6 decimals.

    Args:
        value: the mass in from_unit.
        from_unit: unit of value.
        to_unit: unit of the result.
    """
    return _convert(value, from_unit, to_unit, MASS_KG, "mass")


def convert_volume(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a volume between units (ml, l, gal, qt, cup, floz; US measures); 6 decimals.

    Args:
        value: the volume in from_unit.
        from_unit: unit of value.
        to_unit: unit of the result.
    """
    return _convert(value, from_unit, to_unit, VOLUME_L, "volume")


def convert_temperature(value: float, from_scale: Literal["C", "F", "K"], to_scale: Literal["C", "F", "K"]) -> float:
    """Convert a temperature between Celsius (C), Fahrenheit (F) and Kelvin (K); 6 decimals.

    Args:
        value: the temperature on from_scale.
        from_scale: C, F or K.
        to_scale: C, F or K.
    """
    celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[from_scale]
    return round({"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[to_scale], 6)


def exchange(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies at the fixed house rates; 4 decimals.

    Args:
        amount: the sum in from_currency.
        from_currency: ISO code (USD, EUR, GBP, JPY, CHF, CAD, AUD, INR).
        to_currency: ISO code of the result.
    """
    for code in (from_currency, to_currency):
        if code.upper() not in USD_PER_UNIT:
            raise ToolError(f"unknown currency {code!r}; known: {', '.join(USD_PER_UNIT)}")
    return round(amount * USD_PER_UNIT[from_currency.upper()] / USD_PER_UNIT[to_currency.upper()], 4)


def calculate(a: float, op: Literal["+", "-", "*", "/"], b: float) -> float:
    """Apply one arithmetic operation, a op b; 6 decimals.

    Args:
        a: left operand.
        op: one of + - * /.
        b: right operand.
    """
    if op == "/" and b == 0:
        raise ToolError("division by zero")
    return round({"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0}[op], 6)


def round_number(value: float, digits: int = 2) -> float:
    """Round a number to digits decimal places.

    Args:
        value: the number.
        digits: decimal places to keep (0 to 6).
    """
    if not 0 <= digits <= 6:
        raise ToolError("digits must be between 0 and 6")
    return round(value, digits)


def toolset() -> ToolSet:
    return ToolSet([convert_length, convert_mass, convert_volume, convert_temperature, exchange,
                    calculate, round_number])


# ------------------------------------------------------------------------------ templates
def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def fuel_cost(rng: np.random.Generator, call) -> tuple[str, float, str]:
    miles = int(rng.integers(40, 400))
    per100 = float(rng.integers(45, 95)) / 10
    price = float(rng.integers(150, 210)) / 100
    cur = _pick(rng, ["EUR", "GBP", "CHF"])
    km = call("convert_length", value=miles, from_unit="mi", to_unit="km")
    litres = call("calculate", a=call("calculate", a=km, op="*", b=per100), op="/", b=100)
    cost = call("calculate", a=litres, op="*", b=price)
    usd = call("round_number", value=call("exchange", amount=cost, from_currency=cur, to_currency="USD"), digits=2)
    prompt = (f"A car uses {per100} litres of fuel per 100 km. A trip is {miles} miles long and fuel costs "
              f"{price} {cur} per litre. What does the fuel for the trip cost in USD, rounded to 2 decimals?")
    return prompt, usd, "number"


def parcel_postage(rng: np.random.Generator, call) -> tuple[str, float, str]:
    pounds = float(rng.integers(5, 120)) / 4
    rate = float(rng.integers(200, 900)) / 100
    cur, target = _pick(rng, [("GBP", "JPY"), ("EUR", "INR"), ("CHF", "AUD")])
    kg = call("convert_mass", value=pounds, from_unit="lb", to_unit="kg")
    cost = call("calculate", a=kg, op="*", b=rate)
    answer = call("round_number", value=call("exchange", amount=cost, from_currency=cur, to_currency=target), digits=0)
    prompt = (f"A parcel weighs {pounds} lb. Postage costs {rate} {cur} per kilogram. How much is the postage "
              f"in {target}, rounded to a whole number?")
    return prompt, answer, "number"


def oven_gap(rng: np.random.Generator, call) -> tuple[str, float, str]:
    oven_f = int(rng.integers(300, 480))
    recipe_c = int(rng.integers(15, 25)) * 10
    oven_c = call("convert_temperature", value=oven_f, from_scale="F", to_scale="C")
    gap = call("round_number", value=call("calculate", a=oven_c, op="-", b=recipe_c), digits=1)
    prompt = (f"An oven is set to {oven_f} degrees Fahrenheit and the recipe asks for {recipe_c} degrees Celsius. "
              "By how many degrees Celsius does the oven differ from the recipe (oven minus recipe, "
              "rounded to 1 decimal)?")
    return prompt, gap, "number"


def pooled_savings(rng: np.random.Generator, call) -> tuple[str, float, str]:
    codes = list(USD_PER_UNIT)
    a_cur, b_cur, target = (codes[i] for i in rng.choice(len(codes), size=3, replace=False))
    a_amt, b_amt = int(rng.integers(20, 900)), int(rng.integers(20, 900))
    a = call("exchange", amount=a_amt, from_currency=a_cur, to_currency=target)
    b = call("exchange", amount=b_amt, from_currency=b_cur, to_currency=target)
    total = call("round_number", value=call("calculate", a=a, op="+", b=b), digits=2)
    prompt = (f"Ana has {a_amt} {a_cur} and Ben has {b_amt} {b_cur}. How much do they have together in "
              f"{target}, rounded to 2 decimals?")
    return prompt, total, "number"


def milk_bottles(rng: np.random.Generator, call) -> tuple[str, float, str]:
    cups = int(rng.integers(3, 40))
    floz = int(rng.integers(8, 64))
    cups_ml = call("convert_volume", value=cups, from_unit="cup", to_unit="ml")
    floz_ml = call("convert_volume", value=floz, from_unit="floz", to_unit="ml")
    left = call("round_number", value=call("calculate", a=cups_ml, op="-", b=floz_ml), digits=1)
    prompt = (f"A recipe needs {cups} US cups of milk and you already poured {floz} US fluid ounces. How many "
              "millilitres are still missing (negative if you poured too much), rounded to 1 decimal?")
    return prompt, left, "number"


TEMPLATES = [fuel_cost, parcel_postage, oven_gap, pooled_savings, milk_bottles]
