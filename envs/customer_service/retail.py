"""The retail domain: users, orders and products, and the tools a retail agent may use.

The rules come from the domain's written policy (``policy.txt`` of the tau2 retail data): only
pending orders may be cancelled or modified, only delivered orders returned or exchanged, an
exchange or item change keeps the product type, a gift card must cover what it pays, refunds to
gift cards are immediate, and item changes or exchanges happen once per order. Tools enforce
what the policy makes checkable; confirming with the user stays the agent's duty.
"""

from __future__ import annotations

from typing import Any

from selfgym.envs.customer_service.common import Domain, dumps, record
from selfgym.tools import ToolError, tool

CANCEL_REASONS = ("no longer needed", "ordered by mistake")


class Retail(Domain):
    """Tools of the retail domain over one episode's database (tables users, orders, products)."""

    name = "retail"

    # ------------------------------------------------------------------ helpers
    def _order(self, order_id: str) -> dict[str, Any]:
        return record(self.db, "orders", order_id, "order")

    def _user(self, user_id: str) -> dict[str, Any]:
        return record(self.db, "users", user_id, "user")

    def _payment_method(self, user_id: str, payment_method_id: str) -> dict[str, Any]:
        methods = self._user(user_id)["payment_methods"]
        if payment_method_id not in methods:
            raise ToolError(f"payment method {payment_method_id!r} is not one of the user's payment methods")
        return methods[payment_method_id]

    def _adjust_gift_card(self, user_id: str, payment_method_id: str, delta: float) -> None:
        """Add ``delta`` to a gift card's balance (no-op for other payment methods)."""
        if self._payment_method(user_id, payment_method_id)["source"] != "gift_card":
            return
        method = self.db.edit("users", user_id)["payment_methods"][payment_method_id]
        method["balance"] = round(method["balance"] + delta, 2)

    def _price_difference(self, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str],
                          allow_same: bool = False) -> tuple[float, list]:
        """Check an item swap (same product, available); return (price difference, new variants).

        ``allow_same``: an exchange may name the very same option (the item is replaced by a
        new one of it); a modification of a pending order may not.
        """
        if not item_ids:
            raise ToolError("name at least one item to change")
        if len(item_ids) != len(new_item_ids):
            raise ToolError(f"item_ids has {len(item_ids)} entries but new_item_ids has {len(new_item_ids)}; they must match")
        held = [item["item_id"] for item in order["items"]]
        for item_id in set(item_ids):
            if item_ids.count(item_id) > held.count(item_id):
                raise ToolError(f"item {item_id!r} is not in order {order['order_id']} (or not that many times)")
        total, variants = 0.0, []
        for item_id, new_id in zip(item_ids, new_item_ids):
            if item_id == new_id and not allow_same:
                raise ToolError(f"new item {new_id!r} is the same as the old one; choose a different option")
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            product = record(self.db, "products", item["product_id"], "product")
            variant = product["variants"].get(new_id)
            if variant is None:
                raise ToolError(f"item {new_id!r} is not a variant of {product['name']} (product {product['product_id']}); "
                                "exchanges and modifications must keep the product type")
            if not variant["available"]:
                raise ToolError(f"item {new_id!r} is not available")
            total += variant["price"] - item["price"]
            variants.append(variant)
        return round(total, 2), variants

    def _check_gift_card_covers(self, user_id: str, payment_method_id: str, amount: float) -> None:
        method = self._payment_method(user_id, payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ToolError(f"gift card {payment_method_id} has a balance of {method['balance']}, "
                            f"which does not cover {amount}")

    # ------------------------------------------------------------------ read tools
    @tool
    def find_user_id_by_email(self, email: str) -> str:
        """Find a user's id from their email address.

        Args:
            email: the email address, such as 'jane.doe1234@example.com'.
        """
        wanted = email.strip().lower()
        for user in self.db.rows("users"):
            if user["email"].lower() == wanted:
                return user["user_id"]
        raise ToolError("no user has that email address")

    @tool
    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        """Find a user's id from their first name, last name and zip code.

        Args:
            first_name: the first name, such as 'Jane'.
            last_name: the last name, such as 'Doe'.
            zip: the zip code of the user's default address, such as '12345'.
        """
        first, last, code = first_name.strip().lower(), last_name.strip().lower(), zip.strip()
        for user in self.db.rows("users"):
            name = user["name"]
            if name["first_name"].lower() == first and name["last_name"].lower() == last and user["address"]["zip"] == code:
                return user["user_id"]
        raise ToolError("no user has that name and zip code")

    @tool
    def get_user_details(self, user_id: str) -> str:
        """Get a user's profile: name, email, default address, payment methods and order ids.

        Args:
            user_id: the user id, such as 'jane_doe_1234'.
        """
        return dumps(self._user(user_id))

    @tool
    def get_order_details(self, order_id: str) -> str:
        """Get an order's status, items, address, fulfilments and payment history.

        Args:
            order_id: the order id, such as '#W0000000' (note the leading '#').
        """
        return dumps(self._order(order_id))

    @tool
    def get_product_details(self, product_id: str) -> str:
        """Get a product's variants: item id, options, availability and price of each.

        Args:
            product_id: the product id, such as '6086499569' (a product id is not an item id).
        """
        return dumps(record(self.db, "products", product_id, "product"))

    @tool
    def list_all_product_types(self) -> str:
        """List every product type (name and product id); the store sells 50 of them."""
        return dumps({p["name"]: p["product_id"] for p in self.db.rows("products")})

    # ------------------------------------------------------------------ write tools
    @tool
    def cancel_pending_order(self, order_id: str, reason: str) -> str:
        """Cancel a pending order and refund its payments (gift cards at once, others in 5-7 business days).

        Only after listing the details and getting the user's explicit confirmation.

        Args:
            order_id: the order id, such as '#W0000000'.
            reason: 'no longer needed' or 'ordered by mistake'.
        """
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ToolError(f"order {order_id} is {order['status']!r}; only pending orders can be cancelled")
        if reason not in CANCEL_REASONS:
            raise ToolError(f"reason must be one of {list(CANCEL_REASONS)}")
        refunds = [{"transaction_type": "refund", "amount": p["amount"], "payment_method_id": p["payment_method_id"]}
                   for p in order["payment_history"]]
        for refund in refunds:
            self._adjust_gift_card(order["user_id"], refund["payment_method_id"], refund["amount"])
        order = self.db.edit("orders", order_id)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return dumps(order)

    @tool
    def modify_pending_order_address(self, order_id: str, address1: str, address2: str, city: str,
                                     state: str, country: str, zip: str) -> str:
        """Change the shipping address of a pending order.

        Only after listing the details and getting the user's explicit confirmation.

        Args:
            order_id: the order id, such as '#W0000000'.
            address1: first address line, such as '123 Main St'.
            address2: second address line, such as 'Apt 1' (may be empty).
            city: the city.
            state: the state, such as 'CA'.
            country: the country, such as 'USA'.
            zip: the zip code.
        """
        if "pending" not in self._order(order_id)["status"]:
            raise ToolError(f"order {order_id} is not pending; its address cannot be changed")
        order = self.db.edit("orders", order_id)
        order["address"] = {"address1": address1, "address2": address2, "city": city, "country": country,
                            "state": state, "zip": zip}
        return dumps(order)

    @tool
    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> str:
        """Pay a pending order with a different single payment method; the old one is refunded.

        A gift card must cover the whole total. Only after the user's explicit confirmation.

        Args:
            order_id: the order id, such as '#W0000000'.
            payment_method_id: the new payment method, such as 'gift_card_0000000' or 'credit_card_0000000'.
        """
        order = self._order(order_id)
        if "pending" not in order["status"]:
            raise ToolError(f"order {order_id} is not pending; its payment cannot be changed")
        payments = [p for p in order["payment_history"] if p["transaction_type"] == "payment"]
        if len(order["payment_history"]) != 1 or len(payments) != 1:
            raise ToolError("only an order paid once with a single method can change its payment method")
        old = payments[0]
        if old["payment_method_id"] == payment_method_id:
            raise ToolError("the new payment method must differ from the current one")
        amount = old["amount"]
        self._check_gift_card_covers(order["user_id"], payment_method_id, amount)
        self._adjust_gift_card(order["user_id"], payment_method_id, -amount)
        self._adjust_gift_card(order["user_id"], old["payment_method_id"], amount)
        order = self.db.edit("orders", order_id)
        order["payment_history"].extend([
            {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old["payment_method_id"]},
        ])
        return dumps(order)

    @tool
    def modify_pending_order_items(self, order_id: str, item_ids: list[str], new_item_ids: list[str],
                                   payment_method_id: str) -> str:
        """Change items of a pending order to other options of the same products (once per order).

        The price difference is paid with, or refunded to, the given payment method; a gift card
        must cover a positive difference. The order becomes 'pending (item modified)' and cannot
        be changed or cancelled again. Only after the user's explicit confirmation.

        Args:
            item_ids: the item ids to change, such as ['1008292230'].
            new_item_ids: the new item ids, in the same order, such as ['1008292231'].
            order_id: the order id, such as '#W0000000'.
            payment_method_id: pays or receives the price difference, such as 'gift_card_0000000'.
        """
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ToolError(f"order {order_id} is {order['status']!r}; only pending orders can have items changed")
        diff, variants = self._price_difference(order, item_ids, new_item_ids)
        self._check_gift_card_covers(order["user_id"], payment_method_id, diff)
        self._adjust_gift_card(order["user_id"], payment_method_id, -diff)
        order = self.db.edit("orders", order_id)
        order["payment_history"].append({"transaction_type": "payment" if diff > 0 else "refund",
                                         "amount": abs(diff), "payment_method_id": payment_method_id})
        for item_id, variant in zip(item_ids, variants):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            item.update(item_id=variant["item_id"], price=variant["price"], options=dict(variant["options"]))
        order["status"] = "pending (item modified)"
        return dumps(order)

    @tool
    def return_delivered_order_items(self, order_id: str, item_ids: list[str], payment_method_id: str) -> str:
        """Request the return of items of a delivered order; the user gets return instructions by email.

        The refund goes to the original payment method or to one of the user's gift cards.
        Only after the user's explicit confirmation.

        Args:
            order_id: the order id, such as '#W0000000'.
            item_ids: the item ids to return, such as ['1008292230'].
            payment_method_id: where the refund goes, such as 'gift_card_0000000'.
        """
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ToolError(f"order {order_id} is {order['status']!r}; only delivered orders can be returned")
        method = self._payment_method(order["user_id"], payment_method_id)
        original = {p["payment_method_id"] for p in order["payment_history"]}
        if method["source"] != "gift_card" and payment_method_id not in original:
            raise ToolError("the refund must go to the original payment method or a gift card")
        held = [item["item_id"] for item in order["items"]]
        if not item_ids:
            raise ToolError("name at least one item to return")
        for item_id in set(item_ids):
            if item_ids.count(item_id) > held.count(item_id):
                raise ToolError(f"item {item_id!r} is not in order {order_id} (or not that many times)")
        order = self.db.edit("orders", order_id)
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return dumps(order)

    @tool
    def exchange_delivered_order_items(self, order_id: str, item_ids: list[str], new_item_ids: list[str],
                                       payment_method_id: str) -> str:
        """Exchange items of a delivered order for other options of the same products (once per order).

        The price difference is paid with, or refunded to, the given payment method (a gift card
        must cover it). The order becomes 'exchange requested'; no new order is needed. Only
        after the user's explicit confirmation.

        Args:
            order_id: the order id, such as '#W0000000'.
            item_ids: the item ids to exchange, such as ['1008292230'].
            new_item_ids: the new item ids, in the same order, such as ['1008292231'].
            payment_method_id: pays or receives the price difference, such as 'gift_card_0000000'.
        """
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ToolError(f"order {order_id} is {order['status']!r}; only delivered orders can be exchanged")
        diff, _ = self._price_difference(order, item_ids, new_item_ids, allow_same=True)
        self._check_gift_card_covers(order["user_id"], payment_method_id, diff)
        order = self.db.edit("orders", order_id)
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = diff
        return dumps(order)

    @tool
    def modify_user_address(self, user_id: str, address1: str, address2: str, city: str, state: str,
                            country: str, zip: str) -> str:
        """Change a user's default address.

        Only after listing the details and getting the user's explicit confirmation.

        Args:
            user_id: the user id, such as 'jane_doe_1234'.
            address1: first address line, such as '123 Main St'.
            address2: second address line, such as 'Apt 1' (may be empty).
            city: the city.
            state: the state, such as 'CA'.
            country: the country, such as 'USA'.
            zip: the zip code.
        """
        self._user(user_id)
        user = self.db.edit("users", user_id)
        user["address"] = {"address1": address1, "address2": address2, "city": city, "country": country,
                           "state": state, "zip": zip}
        return dumps(user)
