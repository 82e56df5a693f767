"""Status fields are explicit state machines: the allowed moves live next to each model."""

from collections.abc import Mapping


class IllegalTransition(Exception):
    """A status change the state machine does not allow; never silently overwritten."""


def check_transition(
    table: Mapping[str, frozenset[str]], current: str, new: str, what: str
) -> None:
    if new not in table.get(current, frozenset()):
        allowed = ", ".join(sorted(table.get(current, ()))) or "nothing"
        raise IllegalTransition(f"{what} cannot go from {current} to {new} (allowed: {allowed}).")
