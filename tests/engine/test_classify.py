"""Categories, severities and root causes, from real tracebacks and from messages real libraries raise."""

import json
import subprocess
import sys
import traceback

import pytest

from selfheal.engine.classify import (
    CATEGORIES,
    SEVERITIES,
    SEVERITY_BY_CATEGORY,
    Classification,
    classify,
)
from selfheal.engine.tracebacks import ErrorReport, Frame, parse_python_traceback


def traceback_of(source: str, filename: str = "app.py") -> ErrorReport:
    """Run `source` (trusted test code) and parse the traceback Python prints for it."""
    namespace: dict = {}
    try:
        exec(compile(source, filename, "exec"), namespace)
    except BaseException:  # noqa: BLE001 - any failure is what we want to see
        text = traceback.format_exc()
    else:
        raise AssertionError("the snippet did not fail")
    report = parse_python_traceback(text)
    assert report is not None, text
    return report


@pytest.mark.parametrize(
    "source, category",
    [
        ("import no_such_module_xyz", "import"),
        ("from json import no_such_name", "import"),
        ("def f(:\n    pass", "syntax"),
        ("if True:\npass", "indentation"),
        ("def f():\n\tif 1:\n        return 1\n\treturn 2", "indentation"),
        ("def f():\n    return os.getcwd()\nf()", "undefined_name"),
        ("def f():\n    print(x)\n    x = 1\nf()", "undefined_name"),
        ("None.id", "attribute"),
        ("len(5)", "type"),
        ("int('twelve')", "value"),
        ("{}['user_id']", "key"),
        ("[][3]", "index"),
        ("assert 1 + 1 == 3, 'math is broken'", "assertion"),
        ("open('/nonexistent/settings.yaml')", "file_not_found"),
        ("import json\njson.loads('{not json')", "json_parse"),
        ("def down(n):\n    return down(n + 1)\ndown(0)", "recursion"),
        ("raise TimeoutError('the export took longer than 30s')", "timeout"),
        ("import socket\nraise socket.gaierror(-2, 'Name or service not known')", "network"),
        ("raise ConnectionRefusedError(111, 'Connection refused')", "network"),
        ("1 / 0", "value"),
        ("raise RuntimeError('something odd happened')", "unknown"),
    ],
)
def test_categories_of_real_tracebacks(source, category):
    assert classify(traceback_of(source)).category == category


def test_a_missing_import_in_a_script(tmp_path):
    (tmp_path / "calc.py").write_text("def cwd():\n    return os.getcwd()\n\ncwd()\n")
    completed = subprocess.run(
        [sys.executable, "calc.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    report = parse_python_traceback(completed.stderr, project_files=["calc.py"])
    result = classify(report)
    assert result == Classification(
        category="undefined_name",
        severity="medium",
        root_cause="Name 'os' is used but never defined or imported (line 2 of calc.py)",
    )


def report(exc_type: str, message: str, **fields) -> ErrorReport:
    return ErrorReport(exc_type=exc_type, message=message, **fields)


@pytest.mark.parametrize(
    "exc_type, message, category",
    [
        ("ModuleNotFoundError", "No module named 'requests'", "import"),
        ("ImportError", "cannot import name 'Foo' from 'shop.models' (/app/shop/models.py)", "import"),
        ("ImportError", "attempted relative import with no known parent package", "import"),
        ("TabError", "inconsistent use of tabs and spaces in indentation", "indentation"),
        ("FixtureLookupError", "fixture 'db_session' not found", "undefined_name"),
        ("Failed", "DID NOT RAISE <class 'ValueError'>", "assertion"),
        ("Failed", "Timeout >1.0s", "timeout"),
        ("SoftTimeLimitExceeded", "SoftTimeLimitExceeded()", "timeout"),
        ("TimeoutExpired", "Command '['make']' timed out after 30 seconds", "timeout"),
        ("ReadTimeout", "HTTPSConnectionPool(host='api.acme.io', port=443): Read timed out. (read timeout=5)", "timeout"),
        ("MemoryError", "", "memory"),
        ("OSError", "[Errno 12] Cannot allocate memory", "memory"),
        ("RecursionError", "maximum recursion depth exceeded while calling a Python object", "recursion"),
        ("OperationalError", 'connection to server at "127.0.0.1", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?', "db_connection"),
        ("OperationalError", "could not connect to server: No such file or directory", "db_connection"),
        ("InterfaceError", "connection already closed", "db_connection"),
        ("Exception", "psycopg.OperationalError: server closed the connection unexpectedly", "db_connection"),
        ("HTTPError", "429 Client Error: Too Many Requests for url: https://api.acme.io/v1/orders", "rate_limit"),
        ("RateLimitError", "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error'}}", "rate_limit"),
        ("RuntimeError", "GitHub API rate limit exceeded for 10.0.0.1", "rate_limit"),
        ("ConnectionError", "HTTPSConnectionPool(host='api.acme.io', port=443): Max retries exceeded with url: /v1 (Caused by NewConnectionError('Failed to establish a new connection: [Errno -2] Name or service not known'))", "network"),
        ("URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>", "network"),
        ("URLError", "<urlopen error timed out>", "timeout"),
        ("BrokenPipeError", "[Errno 32] Broken pipe", "network"),
        ("ValueError", "Expecting value: line 1 column 1 (char 0)", "json_parse"),
        ("UnicodeDecodeError", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte", "value"),
        ("HTTPError", "HTTP Error 404: Not Found", "network"),
        ("AssertionError", "assert 429 == 200", "assertion"),  # a test's own words stay a test's
        ("KeyError", "'timeout'", "key"),
        ("", "Job exceeded its 300s deadline: timed out", "timeout"),
        ("", "", "unknown"),
        ("WeirdVendorThing", "it broke", "unknown"),
    ],
)  # fmt: skip
def test_categories_from_messages_libraries_raise(exc_type, message, category):
    assert classify(report(exc_type, message)).category == category


def test_every_category_has_a_severity_and_a_one_line_root_cause():
    assert set(SEVERITY_BY_CATEGORY) == set(CATEGORIES)
    assert set(SEVERITY_BY_CATEGORY.values()) <= set(SEVERITIES)
    samples = {
        "import": ("ModuleNotFoundError", "No module named 'yaml'"),
        "syntax": ("SyntaxError", "expected ':'"),
        "indentation": ("IndentationError", "unexpected indent"),
        "undefined_name": ("NameError", "name 'x' is not defined"),
        "attribute": ("AttributeError", "'NoneType' object has no attribute 'id'"),
        "type": ("TypeError", "add() missing 1 required positional argument: 'b'"),
        "value": ("ValueError", "invalid literal for int() with base 10: 'a'"),
        "key": ("KeyError", "'user'"),
        "index": ("IndexError", "list index out of range"),
        "assertion": ("AssertionError", "assert 1 == 2\n  where 1 = f()\n  and more"),
        "file_not_found": ("FileNotFoundError", "[Errno 2] No such file or directory: 'a.txt'"),
        "json_parse": ("JSONDecodeError", "Expecting value: line 1 column 1 (char 0)"),
        "timeout": ("TimeoutError", "timed out"),
        "recursion": ("RecursionError", "maximum recursion depth exceeded"),
        "memory": ("MemoryError", ""),
        "db_connection": ("OperationalError", "could not connect to server\nsecond line"),
        "rate_limit": ("RateLimitError", "429 Too Many Requests"),
        "network": ("ConnectionResetError", "[Errno 104] Connection reset by peer"),
        "unknown": ("RuntimeError", "x" * 5000),
    }
    assert set(samples) == set(CATEGORIES)
    frames = [Frame("shop/orders.py", 41, "checkout", "shop.orders")]
    for category, (exc_type, message) in samples.items():
        result = classify(report(exc_type, message, frames=frames))
        assert result.category == category
        assert result.severity == SEVERITY_BY_CATEGORY[category]
        assert result.root_cause and "\n" not in result.root_cause
        assert len(result.root_cause) <= 300
        assert "line 41 of shop/orders.py" in result.root_cause


def test_severity_follows_the_documented_table_and_import_time():
    inside = [Frame("shop/orders.py", 10, "checkout", "shop.orders")]
    at_import = [Frame("shop/orders.py", 3, "<module>", "shop.orders")]
    assert classify(report("MemoryError", "", frames=inside)).severity == "critical"
    assert classify(report("OperationalError", "could not connect", frames=inside)).severity == (
        "critical"
    )
    assert classify(report("SyntaxError", "invalid syntax")).severity == "high"
    assert classify(report("AssertionError", "assert 1 == 2", frames=inside)).severity == "low"
    # The same NameError stops a whole module when it happens while the module is imported.
    assert classify(report("NameError", "name 'x' is not defined", frames=inside)).severity == (
        "medium"
    )
    assert classify(report("NameError", "name 'x' is not defined", frames=at_import)).severity == (
        "high"
    )
    collection = report("KeyError", "'DATABASE_URL'", phase="collection")
    assert classify(collection).severity == "high"


@pytest.mark.parametrize(
    "exc_type, message, expected",
    [
        (
            "NameError",
            "name 'lenght' is not defined. Did you mean: 'length'?",
            "Name 'lenght' is used but never defined or imported (line 7 of pkg/calc.py); did you mean 'length'?",
        ),
        (
            "UnboundLocalError",
            "cannot access local variable 'total' where it is not associated with a value",
            "Local variable 'total' is read before it is assigned (line 7 of pkg/calc.py)",
        ),
        (
            "ImportError",
            "cannot import name 'Sumary' from 'pkg.stats' (/srv/pkg/stats.py)",
            "Name 'Sumary' is imported from 'pkg.stats', which does not define it (line 7 of pkg/calc.py)",
        ),
        (
            "ModuleNotFoundError",
            "No module named 'pkg.helper'",
            "Module 'pkg.helper' cannot be found: it is not installed or the import path is wrong (line 7 of pkg/calc.py)",
        ),
        (
            "AttributeError",
            "'NoneType' object has no attribute 'total'",
            "Attribute 'total' is read from None, which has no such attribute (line 7 of pkg/calc.py)",
        ),
        (
            "AttributeError",
            "module 'math' has no attribute 'sqr'. Did you mean: 'sqrt'?",
            "Module 'math' has no attribute 'sqr' (line 7 of pkg/calc.py); did you mean 'sqrt'?",
        ),
        (
            "FileNotFoundError",
            "[Errno 2] No such file or directory: 'rates.csv'",
            "File 'rates.csv' does not exist (line 7 of pkg/calc.py)",
        ),
        (
            "KeyError",
            "'currency'",
            "Key 'currency' is missing from a mapping (line 7 of pkg/calc.py)",
        ),
    ],
)
def test_root_causes_name_the_culprit(exc_type, message, expected):
    frames = [
        Frame("/srv/.venv/lib/python3.11/site-packages/x/y.py", 3, "call", "x.y", in_app=False),
        Frame("pkg/calc.py", 7, "total", "pkg.calc"),
        Frame("/usr/lib/python3.11/json/decoder.py", 9, "decode", "json.decoder", in_app=False),
    ]
    assert classify(report(exc_type, message, frames=frames)).root_cause == expected


def test_syntax_root_cause_points_at_the_column():
    result = classify(traceback_of("total = (1,\n    2\n", filename="/tmp/sbx/pkg/calc.py"))
    assert result.category == "syntax"
    assert result.root_cause == (
        "Invalid syntax: '(' was never closed (line 1, column 9 of calc.py): total = (1,"
    )


def test_assertion_root_cause_names_the_test():
    failing = report(
        "AssertionError",
        "assert {'a': 1} == {'a': 2}\n  Differing items:\n  {'a': 1} != {'a': 2}",
        test_name="tests/test_calc.py::test_totals",
    )
    assert classify(failing).root_cause == (
        "An assertion failed in tests/test_calc.py::test_totals: assert {'a': 1} == {'a': 2}"
    )


def test_classification_survives_huge_and_odd_messages():
    huge = report("ValueError", "€" * 200_000 + "\x00")
    assert classify(huge).category == "value"
    assert len(classify(huge).root_cause) <= 300
    assert classify(report("", json.dumps({"a": [1] * 1000}))).category == "unknown"
