"""Mutation operators: small AST edits from the program-repair literature.

Each operator takes the parsed file and one node and yields the mutations it knows for that node.
An operator is a plain generator function; its docstring says what it does. OPERATORS lists them;
the search (`search.py`) calls every operator on every node of a suspicious line and ranks the
results by suspiciousness x the operator's prior.
"""

from __future__ import annotations

from .common import Mutation, Operator, plus
from .names import attribute, builtin, call, return_value, variable, wrap
from .operations import (
    arithmetic,
    bound,
    constant,
    logical,
    negation,
    offset,
    reduce,
    relational,
    string,
    swap,
)
from .statements import condition, delete, guard

__all__ = ["DEFAULT_PRIORS", "OPERATORS", "Mutation", "Operator", "plus"]

OPERATORS: dict[str, Operator] = {
    "relational": relational,
    "arithmetic": arithmetic,
    "logical": logical,
    "negation": negation,
    "constant": constant,
    "string": string,
    "bound": bound,
    "offset": offset,
    "variable": variable,
    "swap": swap,
    "attribute": attribute,
    "builtin": builtin,
    "delete": delete,
    "return_value": return_value,
    "guard": guard,
    "condition": condition,
    "wrap": wrap,
    "call": call,
    "reduce": reduce,
}

# How often each operator's edit is the right fix, before anything has been learned: the fixed
# prior the search multiplies with a line's suspiciousness. Injectable (`MutationSearch(priors=)`).
DEFAULT_PRIORS: dict[str, float] = {
    "relational": 1.0,
    "constant": 0.9,
    "bound": 0.85,
    "logical": 0.8,
    "arithmetic": 0.75,
    "attribute": 0.75,
    "builtin": 0.7,
    "swap": 0.65,
    "variable": 0.6,
    "reduce": 0.6,
    "negation": 0.6,
    "string": 0.5,
    "offset": 0.45,
    "delete": 0.4,
    "call": 0.35,
    "return_value": 0.3,
    "condition": 0.3,
    "wrap": 0.25,
    "guard": 0.2,
}
