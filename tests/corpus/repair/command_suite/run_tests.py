"""This project's own test runner (no pytest): exit code 0 when every check passes."""

import sys

from textutils import shout

failures = 0
for given, expected in [("hi", "HI!"), ("Stop", "STOP!")]:
    got = shout(given)
    if got != expected:
        print(f"shout({given!r}) = {got!r}, expected {expected!r}")
        failures += 1
sys.exit(1 if failures else 0)
