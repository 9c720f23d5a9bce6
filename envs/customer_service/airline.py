"""The airline domain: users, flights and reservations, and the tools an airline agent may use.

Rules from the domain's written policy (``policy.txt`` of the tau2 airline data): the current time
is 2024-05-15 15:00 EST; only flights whose date status is 'available' can be booked, and only
while seats remain; a reservation has one cabin for all flights and passengers, at most five
passengers, at most one certificate, one credit card and three gift cards; all payment methods
must be in the user's profile; extra bags cost 50 and insurance 30 per passenger; certificates
cannot pay for changes. The policy says which cancellations and flight changes are allowed and
that the tools do not check it: that judgement is the agent's.

New reservation and certificate ids are derived deterministically from the database state, so
replaying the same calls always yields the same database (and hash).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from selfgym.envs.customer_service.common import Domain, dumps, record
from selfgym.tools import ToolError, tool

NOW = "2024-05-15T15:00:00"
CABINS = ("basic_economy", "economy", "business")
Cabin = Literal["basic_economy", "economy", "business"]
BAG_FEE = 50
INSURANCE_FEE = 30
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
AIRPORT_CITIES = {
    "ATL": "Atlanta", "BOS": "Boston", "CLT": "Charlotte", "DEN": "Denver", "DFW": "Dallas",
    "DTW": "Detroit", "EWR": "Newark", "IAH": "Houston", "JFK": "New York", "LAS": "Las Vegas",
    "LAX": "Los Angeles", "LGA": "New York (LaGuardia)", "MCO": "Orlando", "MIA": "Miami",
    "MSP": "Minneapolis", "ORD": "Chicago", "PHL": "Philadelphia", "PHX": "Phoenix",
    "SEA": "Seattle", "SFO": "San Francisco",
}


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Airline(Domain):
    """Tools of the airline domain over one episode's database (tables users, flights, reservations)."""

    name = "airline"

    # ------------------------------------------------------------------ helpers
    def _user(self, user_id: str) -> dict[str, Any]:
        return record(self.db, "users", user_id, "user")

    def _reservation(self, reservation_id: str) -> dict[str, Any]:
        return record(self.db, "reservations", reservation_id, "reservation")

    def _flight_date(self, flight_number: str, date: str) -> tuple[dict[str, Any], dict[str, Any]]:
        flight = record(self.db, "flights", flight_number, "flight")
        day = flight["dates"].get(date)
        if day is None:
            raise ToolError(f"flight {flight_number} does not fly on {date}")
        return flight, day

    def _bookable(self, flight_number: str, date: str, cabin: str, seats: int) -> tuple[dict, dict]:
        flight, day = self._flight_date(flight_number, date)
        if day["status"] != "available":
            raise ToolError(f"flight {flight_number} on {date} is {day['status']!r} and cannot be booked")
        if day["available_seats"][cabin] < seats:
            raise ToolError(f"flight {flight_number} on {date} has only {day['available_seats'][cabin]} {cabin} seat(s) left")
        return flight, day

    def _take_seats(self, flight_number: str, date: str, cabin: str, seats: int) -> None:
        day = self.db.edit("flights", flight_number)["dates"][date]
        day["available_seats"][cabin] -= seats

    def _new_id(self, seed: str, taken) -> str:
        for attempt in range(1000):
            digest = _digest(f"{seed}:{attempt}")
            candidate = "".join(_ID_CHARS[b % len(_ID_CHARS)] for b in digest[:6])
            if not taken(candidate):
                return candidate
        raise ToolError("could not allocate a new id")  # pragma: no cover - 36**6 ids

    def _charge_for_change(self, user: dict[str, Any], payment_id: str, amount: float) -> dict[str, Any] | None:
        """Check and take a payment for a change (refund when negative); None when amount is 0."""
        method = user["payment_methods"].get(payment_id)
        if method is None:
            raise ToolError(f"payment method {payment_id!r} is not in the user's profile")
        if method["source"] == "certificate":
            raise ToolError("a certificate cannot pay for a change to a reservation")
        if method["source"] == "gift_card":
            if method["amount"] < amount:
                raise ToolError(f"gift card {payment_id} has {method['amount']}, not enough for {amount}")
            card = self.db.edit("users", user["user_id"])["payment_methods"][payment_id]
            card["amount"] = round(card["amount"] - amount, 2)
        return {"payment_id": payment_id, "amount": amount} if amount != 0 else None

    # ------------------------------------------------------------------ read tools
    @tool
    def get_user_details(self, user_id: str) -> str:
        """Get a user's profile: name, addresses, date of birth, payment methods, membership, reservations.

        Args:
            user_id: the user id, such as 'sara_doe_496'.
        """
        return dumps(self._user(user_id))

    @tool
    def get_reservation_details(self, reservation_id: str) -> str:
        """Get a reservation: trip, cabin, flights, passengers, payments, bags and insurance.

        Args:
            reservation_id: the reservation id, such as '8JX2WO'.
        """
        return dumps(self._reservation(reservation_id))

    @tool
    def get_flight_status(self, flight_number: str, date: str) -> str:
        """Get the status of a flight on a date ('available', 'delayed', 'on time', 'flying', 'landed', 'cancelled').

        Args:
            flight_number: the flight number, such as 'HAT001'.
            date: the date, 'YYYY-MM-DD'.
        """
        return self._flight_date(flight_number, date)[1]["status"]

    @tool
    def list_all_airports(self) -> str:
        """List the airports served (IATA code and city)."""
        codes = sorted({f["origin"] for f in self.db.rows("flights")} | {f["destination"] for f in self.db.rows("flights")})
        return dumps([{"iata": c, "city": AIRPORT_CITIES.get(c, c)} for c in codes])

    def _direct(self, date: str, origin: str | None, destination: str | None, leave_after: str | None = None):
        found = []
        for flight in self.db.rows("flights"):
            day = flight["dates"].get(date)
            if (day is None or day["status"] != "available"
                    or (origin is not None and flight["origin"] != origin)
                    or (destination is not None and flight["destination"] != destination)
                    or (leave_after is not None and flight["scheduled_departure_time_est"] < leave_after)):
                continue
            found.append({"flight_number": flight["flight_number"], "origin": flight["origin"],
                          "destination": flight["destination"], "date": date, "status": "available",
                          "scheduled_departure_time_est": flight["scheduled_departure_time_est"],
                          "scheduled_arrival_time_est": flight["scheduled_arrival_time_est"],
                          "available_seats": day["available_seats"], "prices": day["prices"]})
        return found

    @tool
    def search_direct_flight(self, origin: str, destination: str, date: str) -> str:
        """Search bookable direct flights between two airports on a date, with seats and prices per cabin.

        Args:
            origin: origin airport code, such as 'JFK'.
            destination: destination airport code, such as 'LAX'.
            date: the date, 'YYYY-MM-DD'.
        """
        return dumps(self._direct(date, origin, destination))

    @tool
    def search_onestop_flight(self, origin: str, destination: str, date: str) -> str:
        """Search bookable one-stop connections (pairs of flights) between two airports on a date.

        Args:
            origin: origin airport code, such as 'JFK'.
            destination: destination airport code, such as 'LAX'.
            date: the departure date, 'YYYY-MM-DD'.
        """
        pairs = []
        for first in self._direct(date, origin, None):
            arrival = first["scheduled_arrival_time_est"]
            second_date = date
            if "+1" in arrival:
                year, month, day = date.split("-")
                second_date = f"{year}-{month}-{int(day) + 1:02d}"
                arrival = "00:00:00"
            for second in self._direct(second_date, first["destination"], destination, leave_after=arrival):
                pairs.append([first, second])
        return dumps(pairs)

    # ------------------------------------------------------------------ write tools
    @tool
    def book_reservation(self, user_id: str, origin: str, destination: str,
                         flight_type: Literal["one_way", "round_trip"], cabin: Cabin,
                         flights: list[dict[str, Any]], passengers: list[dict[str, Any]],
                         payment_methods: list[dict[str, Any]], total_baggages: int, nonfree_baggages: int,
                         insurance: Literal["yes", "no"]) -> str:
        """Book a reservation; the payments must add up to the total price exactly.

        Only after listing the details and getting the user's explicit confirmation.

        Args:
            user_id: the booking user's id, such as 'sara_doe_496'.
            origin: origin airport code of the trip, such as 'JFK'.
            destination: destination airport code of the trip, such as 'SEA'.
            flight_type: 'one_way' or 'round_trip'.
            cabin: 'basic_economy', 'economy' or 'business' (the same for every flight).
            flights: each flight as {"flight_number": "HAT001", "date": "2024-05-20"}.
            passengers: each passenger as {"first_name": ..., "last_name": ..., "dob": "YYYY-MM-DD"} (at most five).
            payment_methods: each payment as {"payment_id": ..., "amount": ...} from the user's profile.
            total_baggages: checked bags in total.
            nonfree_baggages: bags beyond the free allowance (50 each).
            insurance: 'yes' or 'no' (30 per passenger).
        """
        user = self._user(user_id)
        if not flights:
            raise ToolError("a reservation needs at least one flight")
        if not 1 <= len(passengers) <= 5:
            raise ToolError("a reservation has one to five passengers")
        for p in passengers:
            if not isinstance(p, dict) or not {"first_name", "last_name", "dob"} <= set(p):
                raise ToolError('each passenger needs "first_name", "last_name" and "dob"')
        booked, total = [], 0
        for f in flights:
            if not isinstance(f, dict) or "flight_number" not in f or "date" not in f:
                raise ToolError('each flight needs "flight_number" and "date"')
            flight, day = self._bookable(f["flight_number"], f["date"], cabin, len(passengers))
            price = day["prices"][cabin]
            booked.append({"origin": flight["origin"], "destination": flight["destination"],
                           "flight_number": f["flight_number"], "date": f["date"], "price": price})
            total += price * len(passengers)
        total += INSURANCE_FEE * len(passengers) if insurance == "yes" else 0
        total += BAG_FEE * nonfree_baggages
        counts = {"certificate": 0, "credit_card": 0, "gift_card": 0}
        for pay in payment_methods:
            if not isinstance(pay, dict) or "payment_id" not in pay or "amount" not in pay:
                raise ToolError('each payment needs "payment_id" and "amount"')
            method = user["payment_methods"].get(pay["payment_id"])
            if method is None:
                raise ToolError(f"payment method {pay['payment_id']!r} is not in the user's profile")
            counts[method["source"]] = counts.get(method["source"], 0) + 1
            if method["source"] in ("gift_card", "certificate") and method["amount"] < pay["amount"]:
                raise ToolError(f"{pay['payment_id']} holds {method['amount']}, less than {pay['amount']}")
        if counts["certificate"] > 1 or counts["credit_card"] > 1 or counts["gift_card"] > 3:
            raise ToolError("use at most one certificate, one credit card and three gift cards")
        paid = sum(p["amount"] for p in payment_methods)
        if paid != total:
            raise ToolError(f"the payments add up to {paid}, but the total price is {total}")
        account = self.db.edit("users", user_id)
        for pay in payment_methods:
            method = account["payment_methods"][pay["payment_id"]]
            if method["source"] == "gift_card":
                method["amount"] = round(method["amount"] - pay["amount"], 2)
            elif method["source"] == "certificate":
                del account["payment_methods"][pay["payment_id"]]
        for f in booked:
            self._take_seats(f["flight_number"], f["date"], cabin, len(passengers))
        reservation_id = self._new_id(f"reservation:{user_id}:{len(account['reservations'])}",
                                      lambda c: ("reservations", c) in self.db)
        reservation = {
            "reservation_id": reservation_id, "user_id": user_id, "origin": origin, "destination": destination,
            "flight_type": flight_type, "cabin": cabin, "flights": booked,
            "passengers": [{"first_name": p["first_name"], "last_name": p["last_name"], "dob": p["dob"]} for p in passengers],
            "payment_history": [{"payment_id": p["payment_id"], "amount": p["amount"]} for p in payment_methods],
            "created_at": NOW, "total_baggages": total_baggages, "nonfree_baggages": nonfree_baggages,
            "insurance": insurance,
        }
        self.db.insert("reservations", reservation_id, reservation)
        account["reservations"].append(reservation_id)
        return dumps(reservation)

    @tool
    def cancel_reservation(self, reservation_id: str) -> str:
        """Cancel a whole reservation; every payment is refunded to its method in 5-7 business days.

        The tool does not check the cancellation rules: check them against the policy first.

        Args:
            reservation_id: the reservation id, such as '8JX2WO'.
        """
        if self._reservation(reservation_id).get("status") == "cancelled":
            raise ToolError(f"reservation {reservation_id} is already cancelled")
        reservation = self.db.edit("reservations", reservation_id)
        refunds = [{"payment_id": p["payment_id"], "amount": -p["amount"]} for p in reservation["payment_history"]]
        reservation["payment_history"].extend(refunds)
        reservation["status"] = "cancelled"
        return dumps(reservation)

    @tool
    def update_reservation_flights(self, reservation_id: str, cabin: Cabin, flights: list[dict[str, Any]],
                                   payment_id: str) -> str:
        """Replace a reservation's flights and/or cabin; the whole new itinerary must be given.

        Kept flights (same number and date, same cabin) keep their price; the difference in total
        price is charged to or refunded to ``payment_id`` (a credit card or gift card). The tool
        does not check the change rules: check them against the policy first.

        Args:
            reservation_id: the reservation id, such as '8JX2WO'.
            cabin: the cabin for every flight: 'basic_economy', 'economy' or 'business'.
            flights: the full new itinerary, each as {"flight_number": "HAT001", "date": "2024-05-20"}.
            payment_id: pays or receives the difference, such as 'credit_card_7815826'.
        """
        reservation = self._reservation(reservation_id)
        user = self._user(reservation["user_id"])
        seats = len(reservation["passengers"])
        new_flights, new_total, to_take = [], 0, []
        for f in flights:
            if not isinstance(f, dict) or "flight_number" not in f or "date" not in f:
                raise ToolError('each flight needs "flight_number" and "date"')
            kept = next((old for old in reservation["flights"] if old["flight_number"] == f["flight_number"]
                         and old["date"] == f["date"] and cabin == reservation["cabin"]), None)
            if kept is not None:
                new_flights.append(dict(kept))
                new_total += kept["price"] * seats
                continue
            flight, day = self._bookable(f["flight_number"], f["date"], cabin, seats)
            new_flights.append({"origin": flight["origin"], "destination": flight["destination"],
                                "flight_number": f["flight_number"], "date": f["date"], "price": day["prices"][cabin]})
            new_total += day["prices"][cabin] * seats
            to_take.append(f)
        if not new_flights:
            raise ToolError("the new itinerary needs at least one flight")
        difference = new_total - sum(old["price"] for old in reservation["flights"]) * seats
        payment = self._charge_for_change(user, payment_id, difference)
        for f in to_take:
            self._take_seats(f["flight_number"], f["date"], cabin, seats)
        reservation = self.db.edit("reservations", reservation_id)
        if payment is not None:
            reservation["payment_history"].append(payment)
        reservation["flights"] = new_flights
        reservation["cabin"] = cabin
        return dumps(reservation)

    @tool
    def update_reservation_baggages(self, reservation_id: str, total_baggages: int, nonfree_baggages: int,
                                    payment_id: str) -> str:
        """Set a reservation's checked bags (bags can be added, not removed); extra bags cost 50 each.

        Args:
            reservation_id: the reservation id, such as '8JX2WO'.
            total_baggages: the new total number of checked bags.
            nonfree_baggages: the new number of paid bags.
            payment_id: pays for the added paid bags, such as 'credit_card_7815826'.
        """
        reservation = self._reservation(reservation_id)
        if total_baggages < reservation["total_baggages"] or nonfree_baggages < reservation["nonfree_baggages"]:
            raise ToolError("checked bags can be added but not removed")
        user = self._user(reservation["user_id"])
        cost = BAG_FEE * max(0, nonfree_baggages - reservation["nonfree_baggages"])
        payment = self._charge_for_change(user, payment_id, cost)
        reservation = self.db.edit("reservations", reservation_id)
        if payment is not None:
            reservation["payment_history"].append(payment)
        reservation["total_baggages"] = total_baggages
        reservation["nonfree_baggages"] = nonfree_baggages
        return dumps(reservation)

    @tool
    def update_reservation_passengers(self, reservation_id: str, passengers: list[dict[str, Any]]) -> str:
        """Replace the passengers' details; their number cannot change.

        Args:
            reservation_id: the reservation id, such as '8JX2WO'.
            passengers: each passenger as {"first_name": ..., "last_name": ..., "dob": "YYYY-MM-DD"}.
        """
        reservation = self._reservation(reservation_id)
        if len(passengers) != len(reservation["passengers"]):
            raise ToolError(f"the reservation has {len(reservation['passengers'])} passenger(s); the number cannot change")
        for p in passengers:
            if not isinstance(p, dict) or not {"first_name", "last_name", "dob"} <= set(p):
                raise ToolError('each passenger needs "first_name", "last_name" and "dob"')
        reservation = self.db.edit("reservations", reservation_id)
        reservation["passengers"] = [{"first_name": p["first_name"], "last_name": p["last_name"], "dob": p["dob"]}
                                     for p in passengers]
        return dumps(reservation)

    @tool
    def send_certificate(self, user_id: str, amount: int) -> str:
        """Give a user a travel certificate as a goodwill gesture (only where the policy allows it).

        Args:
            user_id: the user id, such as 'sara_doe_496'.
            amount: the certificate's value in dollars.
        """
        self._user(user_id)
        if amount <= 0:
            raise ToolError("the amount must be positive")
        account = self.db.edit("users", user_id)
        n = len(account["payment_methods"])
        while f"certificate_{3221322 + n}" in account["payment_methods"]:
            n += 1
        payment_id = f"certificate_{3221322 + n}"
        account["payment_methods"][payment_id] = {"source": "certificate", "id": payment_id, "amount": amount}
        return f"Certificate {payment_id} added to user {user_id} with amount {amount}."
