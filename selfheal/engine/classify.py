"""CONTRACT (to be implemented): category, severity and a one-line root cause for an ErrorReport."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = (
    "import", "syntax", "indentation", "undefined_name", "attribute", "type", "value", "key",
    "index", "assertion", "file_not_found", "json_parse", "timeout", "recursion", "memory",
    "db_connection", "rate_limit", "network", "unknown",
)  # fmt: skip

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Classification:
    category: str
    severity: str
    root_cause: str
