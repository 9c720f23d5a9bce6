"""Pieces both customer-service domains share: the calculator, the transfer tool, JSON output.

A domain is a class whose ``@tool`` methods read and change one episode's ``Database``; a tool
refuses a request that breaks the domain's rules by raising ``ToolError`` (the agent sees the
message and the episode goes on). Tools return JSON text, so the agent can never hold a live
reference to a record.
"""

from __future__ import annotations

import ast
import json
import operator
from typing import Any

from selfgym import pyparse
from selfgym.envs.customer_service.db import Database
from selfgym.tools import ToolError, tool

TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


def dumps(value: Any) -> str:
    """Compact JSON for tool results."""
    return json.dumps(value, ensure_ascii=False)


def evaluate_arithmetic(expression: str) -> float:
    """Evaluate numbers, + - * / // ** and parentheses (nothing else), or raise ToolError."""
    try:
        tree = pyparse.parse_expression(expression.strip())
    except SyntaxError as exc:
        raise ToolError(f"cannot read the expression {expression!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError, SystemError) as exc:  # too deep, NUL bytes, parser race
        raise ToolError(f"cannot read the expression: {type(exc).__name__}") from None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            value = walk(node.operand)
            return value if isinstance(node.op, ast.UAdd) else -value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ToolError("exponents above 64 are not supported")
            try:
                return _BINARY[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ToolError("division by zero") from None
        raise ToolError("only numbers, + - * / // ** and parentheses are allowed")

    return walk(tree.body)


class Domain:
    """Base of a customer-service domain: the episode's database and the shared tools.

    Subclasses set ``name`` and add their own ``@tool`` methods; ``transfers`` records the
    summaries of transfers to a human agent made in the episode.
    """

    name = "domain"

    def __init__(self, db: Database):
        self.db = db
        self.transfers: list[str] = []

    @tool
    def calculate(self, expression: str) -> str:
        """Calculate the result of an arithmetic expression (numbers, + - * / and parentheses).

        Args:
            expression: the expression, such as '2 * (19.99 + 5)'.
        """
        return str(round(float(evaluate_arithmetic(expression)), 2))

    @tool
    def transfer_to_human_agents(self, summary: str) -> str:
        """Transfer the customer to a human agent, with a summary of their issue.

        Only when the request cannot be handled with the other tools; afterwards tell the
        customer they are being transferred.

        Args:
            summary: a short summary of the customer's issue.
        """
        self.transfers.append(summary)
        return "Transfer successful"


def record(db: Database, table: str, key: str, what: str) -> dict[str, Any]:
    """The current record or a ToolError naming what was not found."""
    found = db.get(table, key) if isinstance(key, str) else None
    if found is None:
        raise ToolError(f"{what} {key!r} not found")
    return found
