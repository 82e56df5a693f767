"""Read pytest's JUnit XML report into per-test results.

The report is written by untrusted code, so it is treated as hostile input: the caller caps its size,
and any DOCTYPE is refused (no entity expansion, no external entities).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass


class JUnitError(ValueError):
    """The report is not JUnit XML we are willing to read."""


@dataclass
class TestCaseResult:
    name: str  # pytest node id, e.g. "tests/test_calc.py::test_add"
    outcome: str  # "passed" | "failed" | "error" | "skipped"
    message: str = ""  # the one-line failure message
    details: str = ""  # the traceback / long representation
    duration: float = 0.0
    file: str = ""
    line: int | None = None
    error_type: str = ""  # the failure's `type` attribute, when the report names one

    __test__ = False  # not a pytest test class, despite the name


_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_junit(data: bytes) -> list[TestCaseResult]:
    if _DOCTYPE.search(data):
        raise JUnitError("JUnit report declares a DOCTYPE or entities; refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise JUnitError(f"JUnit report is not well-formed XML: {exc}") from exc
    if root.tag not in ("testsuites", "testsuite", "testcase"):
        raise JUnitError(f"not a JUnit report: the root element is <{root.tag}>")
    return [_case(element) for element in root.iter("testcase")]


def _case(element: ET.Element) -> TestCaseResult:
    outcome, message, details, error_type = "passed", "", "", ""
    # A test can carry both a failure and a teardown error; the failure says more.
    for tag in ("failure", "error", "skipped"):
        child = element.find(tag)
        if child is not None:
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
            message = (child.get("message") or "").strip()
            details = child.text or ""
            error_type = child.get("type") or ""
            break
    file = element.get("file", "")
    line = element.get("line")
    return TestCaseResult(
        name=node_id(element.get("classname", ""), element.get("name", ""), file),
        outcome=outcome,
        message=message.splitlines()[0] if message else "",
        details=details,
        duration=_float(element.get("time")),
        file=file,
        # pytest reports 0-based line numbers; people and tracebacks count from 1.
        line=int(line) + 1 if line and line.isdigit() else None,
        error_type=error_type,
    )


def node_id(classname: str, name: str, file: str = "") -> str:
    """Rebuild pytest's node id from JUnit's dotted classname, test name and file."""
    if not classname:  # a collection error: name is the module's dotted path (or already a path)
        if file:
            return file
        if "/" in name or "::" in name or name.endswith(".py") or " " in name:
            return name
        return name.replace(".", "/") + ".py"
    if file:
        module = file.removesuffix(".py").replace("/", ".")
        rest = classname[len(module) :].lstrip(".") if classname.startswith(module) else ""
        return "::".join([file, *filter(None, rest.split(".")), name])
    parts = classname.split(".")
    classes: list[str] = []
    while len(parts) > 1 and parts[-1][:1].isupper():
        classes.insert(0, parts.pop())
    return "::".join(["/".join(parts) + ".py", *classes, name])


def _float(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
