"""Travel domain: a small itinerary planner over a fixed timetable of flights and hotels.

City coordinates are real (so distances are great-circle distances); the timetable, prices,
hotels and city taxes are made up by a fixed formula below, so they never change.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "travel"
DESCRIPTION = "a travel itinerary planner (flights, hotels, distances)"

CITIES = {
    "Lisbon": (38.7223, -9.1393), "Madrid": (40.4168, -3.7038), "Paris": (48.8566, 2.3522),
    "Berlin": (52.5200, 13.4050), "Rome": (41.9028, 12.4964), "Vienna": (48.2082, 16.3738),
    "Amsterdam": (52.3676, 4.9041), "Prague": (50.0755, 14.4378),
}
CITY_TAX = {"Lisbon": 2.0, "Madrid": 3.5, "Paris": 4.25, "Berlin": 5.0, "Rome": 6.0, "Vienna": 3.2,
            "Amsterdam": 7.5, "Prague": 1.5}
HOTEL_NAMES = ("Harbour Inn", "Old Town Suites", "Central Lodge", "Garden Hotel")


def _haversine(a: str, b: str) -> float:
    (la1, lo1), (la2, lo2) = (map(math.radians, CITIES[c]) for c in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _clock(minutes: int) -> str:
    day, rest = divmod(minutes, 24 * 60)
    return f"{rest // 60:02d}:{rest % 60:02d}" + ("+1" if day else "")


def _timetable() -> dict[str, dict[str, Any]]:
    flights, number = {}, 100
    names = list(CITIES)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                continue
            dist = _haversine(a, b)
            for k in range(2 + (i + j) % 2):
                depart = 6 * 60 + ((i * 7 + j * 11 + k * 5) % 15) * 60 + ((i + j + k) * 10) % 60
                duration = round(dist / 780 * 60) + 35 + 10 * k
                price = float(round(40 + dist * 0.09 + (i * 13 + j * 7 + k * 29) % 90))
                flights[f"SG{number}"] = {"flight": f"SG{number}", "origin": a, "destination": b,
                                          "depart": _clock(depart), "arrive": _clock(depart + duration),
                                          "duration_min": duration, "price": price}
                number += 1
    return flights


def _hotels() -> dict[str, dict[str, Any]]:
    hotels = {}
    for i, city in enumerate(CITIES):
        for k, name in enumerate(HOTEL_NAMES[: 3 + i % 2]):
            stars = 2 + (i + 2 * k) % 4
            hotels[f"{city} {name}"] = {"hotel": f"{city} {name}", "city": city, "stars": stars,
                                        "nightly_price": float(35 + 22 * stars + (i * 17 + k * 23) % 40)}
    return hotels


FLIGHTS = _timetable()
HOTELS = _hotels()


def _city(name: str) -> str:
    for city in CITIES:
        if city.lower() == name.strip().lower():
            return city
    raise ToolError(f"unknown city {name!r}; known: {', '.join(CITIES)}")


def find_flights(origin: str, destination: str) -> list[dict[str, Any]]:
    """Direct flights from origin to destination: flight number, departure time and price (EUR).

    Args:
        origin: departure city.
        destination: arrival city.
    """
    a, b = _city(origin), _city(destination)
    rows = [f for f in FLIGHTS.values() if f["origin"] == a and f["destination"] == b]
    return [{"flight": f["flight"], "depart": f["depart"], "price": f["price"]} for f in sorted(rows, key=lambda f: f["depart"])]


def flight_info(flight: str) -> dict[str, Any]:
    """Full details of one flight: route, departure and arrival times ("+1": next day), duration, price.

    Args:
        flight: flight number, e.g. SG123.
    """
    f = FLIGHTS.get(flight.strip().upper())
    if f is None:
        raise ToolError(f"no flight {flight!r}; use find_flights to list flight numbers")
    return dict(f)


def list_hotels(city: str, min_stars: int = 1) -> list[dict[str, Any]]:
    """Hotels in city with at least min_stars stars, with their nightly price (EUR, before city tax).

    Args:
        city: the city.
        min_stars: lowest star rating to include (1-5).
    """
    c = _city(city)
    return [{"hotel": h["hotel"], "stars": h["stars"], "nightly_price": h["nightly_price"]}
            for h in HOTELS.values() if h["city"] == c and h["stars"] >= min_stars]


def hotel_quote(hotel: str, nights: int) -> float:
    """Total price (EUR) of nights nights at hotel, the city's tourist tax per night included.

    Args:
        hotel: hotel name as listed by list_hotels.
        nights: number of nights (1 or more).
    """
    h = HOTELS.get(hotel.strip())
    if h is None:
        raise ToolError(f"no hotel named {hotel!r}; use list_hotels to see names")
    if nights < 1:
        raise ToolError("nights must be 1 or more")
    return round((h["nightly_price"] + CITY_TAX[h["city"]]) * nights, 2)


def distance_km(from_city: str, to_city: str) -> float:
    """Great-circle distance between two cities in kilometres (1 decimal).

    Args:
        from_city: first city.
        to_city: second city.
    """
    return round(_haversine(_city(from_city), _city(to_city)), 1)


def add(numbers: list[float]) -> float:
    """The sum of a list of numbers (2 decimals).

    Args:
        numbers: the numbers to add.
    """
    return round(sum(numbers), 2)


def toolset() -> ToolSet:
    return ToolSet([find_flights, flight_info, list_hotels, hotel_quote, distance_km, add])


# ------------------------------------------------------------------------------ templates
def _pair(rng: np.random.Generator) -> tuple[str, str]:
    names = list(CITIES)
    i, j = rng.choice(len(names), size=2, replace=False)
    return names[int(i)], names[int(j)]


def trip_cost(rng: np.random.Generator, call) -> tuple[str, float, str]:
    a, b = _pair(rng)
    stars, nights = int(rng.integers(2, 5)), int(rng.integers(1, 6))
    flight = min(call("find_flights", origin=a, destination=b), key=lambda f: (f["price"], f["flight"]))
    hotels = call("list_hotels", city=b, min_stars=stars)
    while not hotels:
        stars -= 1
        hotels = call("list_hotels", city=b, min_stars=stars)
    hotel = min(hotels, key=lambda h: (h["nightly_price"], h["hotel"]))
    stay = call("hotel_quote", hotel=hotel["hotel"], nights=nights)
    total = call("add", numbers=[flight["price"], stay])
    prompt = (f"Plan a trip from {a} to {b}: take the cheapest direct flight and stay {nights} night(s) in the "
              f"cheapest hotel in {b} with at least {stars} stars. What is the total cost in EUR, flight plus "
              "hotel including tourist tax?")
    return prompt, total, "number"


def round_trip(rng: np.random.Generator, call) -> tuple[str, float, str]:
    a, b = _pair(rng)
    out = min(f["price"] for f in call("find_flights", origin=a, destination=b))
    back = min(f["price"] for f in call("find_flights", origin=b, destination=a))
    total = call("add", numbers=[out, back])
    return f"What is the cheapest price in EUR for a return trip {a} -> {b} -> {a} on direct flights?", total, "number"


def shortest_flight(rng: np.random.Generator, call) -> tuple[str, str, str]:
    a, b = _pair(rng)
    infos = [call("flight_info", flight=f["flight"]) for f in call("find_flights", origin=a, destination=b)]
    best = min(infos, key=lambda f: (f["duration_min"], f["flight"]))
    prompt = (f"Among the direct flights from {a} to {b}, which flight number has the shortest duration "
              "(on a tie, the lowest flight number)?")
    return prompt, best["flight"], "text"


def nearest_city(rng: np.random.Generator, call) -> tuple[str, str, str]:
    names = list(CITIES)
    picks = [names[int(i)] for i in rng.choice(len(names), size=4, replace=False)]
    home, options = picks[0], picks[1:]
    dists = {c: call("distance_km", from_city=home, to_city=c) for c in options}
    answer = min(options, key=lambda c: dists[c])
    return f"Which of {', '.join(options)} is closest to {home} as the crow flies?", answer, "text"


def first_arrival(rng: np.random.Generator, call) -> tuple[str, str, str]:
    a, b = _pair(rng)
    first = call("find_flights", origin=a, destination=b)[0]
    arrive = call("flight_info", flight=first["flight"])["arrive"]
    prompt = (f"You take the earliest direct flight of the day from {a} to {b}. At what time does it land (timetable time)? "
              "Answer HH:MM, with +1 appended if it lands the next day.")
    return prompt, arrive, "text"


TEMPLATES = [trip_cost, round_trip, shortest_flight, nearest_city, first_arrival]
