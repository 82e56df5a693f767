"""Small text helpers."""

import re


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
