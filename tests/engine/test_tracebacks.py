"""Failures parsed from what real tools print: python, pytest (three styles), JUnit XML, sentry-sdk."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from selfheal.engine.junit import node_id, parse_junit
from selfheal.engine.sandbox import TestCaseResult
from selfheal.engine.tracebacks import (
    ErrorReport,
    MalformedReport,
    is_library_path,
    module_from_path,
    parse_junit_xml,
    parse_pytest_output,
    parse_python_traceback,
    parse_sentry_exception,
    reports_from_test_results,
    split_exception_line,
)

OPS = textwrap.dedent(
    """\
    import json


    def add(a, b):
        return a + b + offset


    def parse(text):
        return json.loads(text)


    def ratio(a, b):
        try:
            return a / b
        except ZeroDivisionError as exc:
            raise ValueError(f"cannot divide {a} by {b}") from exc
    """
)
TEST_OPS = textwrap.dedent(
    """\
    import logging

    from calc.ops import add, parse, ratio


    def test_add():
        assert add(1, 2) == 3


    def test_parse():
        parse("")


    def test_ratio():
        ratio(1, 0)


    class TestValues:
        def test_equal(self):
            # Output pytest shows under "Captured ...": it must not be taken for the failure.
            print("E   ValueError: printed, not raised")
            try:
                {}["k"]
            except KeyError:
                logging.getLogger("calc").exception("handled")
            assert [1, 2] == [1, 3]


    def test_passes():
        assert True
    """
)
PROJECT = {
    "pytest.ini": "[pytest]\npythonpath = .\n",
    "calc/__init__.py": "",
    "calc/ops.py": OPS,
    "tests/test_ops.py": TEST_OPS,
    "tests/test_broken_import.py": "from calc.missing import thing\n",
    "tests/test_syntax.py": "def f(:\n    pass\n",
}


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# node id -> (type, first line of the message, crash file, crash line, crash function)
EXPECTED = {
    "tests/test_ops.py::test_add": (
        "NameError", "name 'offset' is not defined",
        "calc/ops.py", line_of(OPS, "+ offset"), "add",
    ),
    "tests/test_ops.py::test_parse": (
        "JSONDecodeError", "Expecting value: line 1 column 1 (char 0)",
        "calc/ops.py", line_of(OPS, "json.loads"), "parse",
    ),
    "tests/test_ops.py::test_ratio": (
        "ValueError", "cannot divide 1 by 0",
        "calc/ops.py", line_of(OPS, "raise ValueError"), "ratio",
    ),
    "tests/test_ops.py::TestValues::test_equal": (
        "AssertionError", "assert [1, 2] == [1, 3]",
        "tests/test_ops.py", line_of(TEST_OPS, "[1, 3]"), "test_equal",
    ),
    "tests/test_broken_import.py": (
        "ModuleNotFoundError", "No module named 'calc.missing'",
        "tests/test_broken_import.py", 1, "<module>",
    ),
    "tests/test_syntax.py": (
        "SyntaxError", "invalid syntax", "tests/test_syntax.py", 1, "<module>",
    ),
}  # fmt: skip


def write_files(root, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def clean_env(home) -> dict[str, str]:
    # The inner pytest must not pick up this suite's Django settings or plugins' state.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # plain pytest, and much faster to start
    }


@pytest.fixture(scope="module")
def pytest_runs(tmp_path_factory):
    """pytest run on a small broken project in each traceback style: {style: (output, junit)}."""
    root = tmp_path_factory.mktemp("project")
    write_files(root, PROJECT)
    styles = ("auto", "short", "native")
    processes = {
        style: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                f"--tb={style}",
                f"--junitxml=junit-{style}.xml",
                "--continue-on-collection-errors",
                "-p",
                "no:cacheprovider",
            ],
            cwd=root,
            env=clean_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for style in styles
    }
    runs = {}
    for style, process in processes.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 1, output
        runs[style] = (output, (root / f"junit-{style}.xml").read_bytes())
    return runs


def by_test(reports: list[ErrorReport]) -> dict[str, ErrorReport]:
    return {report.test_name: report for report in reports}


def assert_expected(reports: list[ErrorReport]) -> None:
    found = by_test(reports)
    assert set(found) == set(EXPECTED)
    for name, (exc_type, message, file, line, function) in EXPECTED.items():
        report = found[name]
        assert report.exc_type == exc_type, name
        assert report.message.splitlines()[0] == message, name
        crash = report.crash_frame
        assert (crash.filename, crash.lineno, crash.function) == (file, line, function), name
        assert crash.in_app


@pytest.mark.parametrize("style", ["auto", "short", "native"])
def test_pytest_output_in_every_traceback_style(pytest_runs, style):
    output, _ = pytest_runs[style]
    assert_expected(parse_pytest_output(output, project_files=PROJECT))


def test_pytest_output_details(pytest_runs):
    output, _ = pytest_runs["auto"]
    found = by_test(parse_pytest_output(output))  # paths are already relative in pytest's own style

    add = found["tests/test_ops.py::test_add"]
    assert add.source == "pytest" and add.phase == "call"
    assert [(f.filename, f.function) for f in add.frames] == [
        ("tests/test_ops.py", "test_add"),
        ("calc/ops.py", "add"),
    ]
    assert add.crash_frame.module == "calc.ops"
    assert add.crash_frame.context_line == "return a + b + offset"
    assert add.crash_frame.pre_context == ["def add(a, b):"]
    assert "test_add" in add.raw

    parse = found["tests/test_ops.py::test_parse"]
    assert parse.exc_module == "json.decoder"
    library = [f for f in parse.frames if not f.in_app]
    assert library and all(f.module.startswith("json") for f in library)

    ratio = found["tests/test_ops.py::test_ratio"]  # the chain's final link only
    assert "ZeroDivisionError" not in ratio.message
    assert [f.function for f in ratio.frames] == ["test_ratio", "ratio"]

    broken = found["tests/test_broken_import.py"]
    assert broken.phase == "collection"

    syntax = found["tests/test_syntax.py"]
    assert syntax.phase == "collection"
    assert (syntax.syntax_file, syntax.syntax_line) == ("tests/test_syntax.py", 1)
    assert syntax.syntax_text == "def f(:"
    assert syntax.syntax_text[syntax.syntax_offset - 1] == ":"


def test_pytest_summary_alone_still_names_every_failure(pytest_runs):
    output, _ = pytest_runs["auto"]
    summary = output[output.index("short test summary info") - 40 :]
    found = by_test(parse_pytest_output(summary))
    assert set(found) == set(EXPECTED)
    assert found["tests/test_ops.py::test_ratio"].message == "cannot divide 1 by 0"
    assert found["tests/test_ops.py::test_add"].exc_type == "NameError"
    assert found["tests/test_ops.py::TestValues::test_equal"].exc_type == "AssertionError"
    assert found["tests/test_syntax.py"].phase == "collection"


@pytest.mark.parametrize("style", ["auto", "native"])
def test_junit_upload(pytest_runs, style):
    _, junit = pytest_runs[style]
    reports = parse_junit_xml(junit, project_files=PROJECT)
    assert_expected(reports)
    assert {r.source for r in reports} == {"junit"}
    assert by_test(reports)["tests/test_syntax.py"].syntax_line == 1


def test_sandbox_test_results_give_the_same_reports_as_the_output(pytest_runs):
    output, junit = pytest_runs["auto"]
    results = parse_junit(junit)  # how the sandbox reads the run's JUnit XML
    reports = reports_from_test_results(results, project_files=PROJECT)
    assert_expected(reports)
    from_output = by_test(parse_pytest_output(output, project_files=PROJECT))
    for report in reports:
        twin = from_output[report.test_name]
        assert [(f.filename, f.function) for f in report.frames] == [
            (f.filename, f.function) for f in twin.frames
        ]
        assert report.phase == twin.phase


def test_test_results_without_details_fall_back_to_the_message():
    results = [
        TestCaseResult("tests/test_a.py::test_ok", "passed"),
        TestCaseResult("tests/test_a.py::test_skip", "skipped", message="no db"),
        TestCaseResult(
            "tests/test_a.py::test_b",
            "failed",
            message="KeyError: 'user'",
            file="tests/test_a.py",
            line=12,
        ),
        TestCaseResult(
            "tests/test_a.py::test_c",
            "error",
            message='failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"',
        ),
        TestCaseResult("tests/test_a.py::test_d", "failed", message="", details="\x00\xff garbage"),
    ]
    reports = reports_from_test_results(results)
    assert [r.test_name for r in reports] == [
        "tests/test_a.py::test_b",
        "tests/test_a.py::test_c",
        "tests/test_a.py::test_d",
    ]
    b, c, d = reports
    assert (b.exc_type, b.message) == ("KeyError", "'user'")
    assert (b.crash_frame.filename, b.crash_frame.lineno, b.crash_frame.function) == (
        "tests/test_a.py",
        12,
        "test_b",
    )
    assert (c.exc_type, c.message, c.phase) == (
        "ConnectionRefusedError",
        "[Errno 111] Connection refused",
        "setup",
    )
    assert d.exc_type == ""


# --- plain Python tracebacks ---------------------------------------------------------------------


def run_python(tmp_path, files: dict[str, str], main: str) -> str:
    write_files(tmp_path, files)
    completed = subprocess.run(
        [sys.executable, main], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode != 0
    return completed.stderr


def test_python_traceback_frames_and_final_exception(tmp_path):
    stderr = run_python(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/prices.py": "def total(items):\n    return sum(i['price'] for i in items) * markup\n",
            "main.py": "from app.prices import total\n\n\ndef main():\n    total([{'price': 2}])\n\n\nmain()\n",
        },
        "main.py",
    )
    report = parse_python_traceback(
        "INFO starting\n" + stderr, project_files=["main.py", "app/prices.py"]
    )
    assert (report.exc_type, report.message) == ("NameError", "name 'markup' is not defined")
    assert [(f.filename, f.lineno, f.function, f.module) for f in report.frames] == [
        ("main.py", 8, "<module>", "main"),
        ("main.py", 5, "main", "main"),
        ("app/prices.py", 2, "total", "app.prices"),
    ]
    assert report.crash_frame.context_line == "return sum(i['price'] for i in items) * markup"
    assert report.source == "python"
    assert "Traceback (most recent call last)" in report.raw


@pytest.mark.parametrize(
    "handler, final",
    [
        ("open('/nonexistent/config.yaml')", "FileNotFoundError"),
        ("raise RuntimeError('lookup failed') from None", "RuntimeError"),
        ("raise LookupError('no such user') from error", "LookupError"),
    ],
)
def test_chained_exceptions_give_the_last_one(tmp_path, handler, final):
    source = f"def find(d):\n    try:\n        return d['k']\n    except KeyError as error:\n        {handler}\n\n\nfind({{}})\n"
    report = parse_python_traceback(run_python(tmp_path, {"find.py": source}, "find.py"))
    assert report.exc_type == final
    assert [f.lineno for f in report.frames] == [8, 5]
    assert report.crash_frame.function == "find"


@pytest.mark.parametrize(
    "source, exc_type, line, text, column",
    [
        ("x = 1\ndef f(:\n    pass\n", "SyntaxError", 2, "def f(:", 7),
        ("total = (1,\n", "SyntaxError", 1, "total = (1,", 9),
        ("x = 1\n    y = 2\n", "IndentationError", 2, "y = 2", None),
        ("def f():\n\tif 1:\n        pass\n", "TabError", 3, "pass", None),
    ],
)
def test_syntax_errors_say_where_the_parser_stopped(tmp_path, source, exc_type, line, text, column):
    stderr = run_python(tmp_path, {"broken.py": source}, "broken.py")
    report = parse_python_traceback(stderr, project_files=["broken.py"])
    assert report.exc_type == exc_type
    assert (report.syntax_file, report.syntax_line, report.syntax_text) == ("broken.py", line, text)
    if column:
        assert report.syntax_offset == column
    assert (report.crash_frame.filename, report.crash_frame.lineno) == ("broken.py", line)


def test_syntax_error_in_an_imported_module(tmp_path):
    stderr = run_python(tmp_path, {"lib.py": "def g(\n", "main.py": "import lib\n"}, "main.py")
    report = parse_python_traceback(stderr, project_files=["lib.py", "main.py"])
    assert report.exc_type == "SyntaxError"
    assert report.syntax_file == "lib.py"
    assert [(f.filename, f.function) for f in report.frames] == [
        ("main.py", "<module>"),
        ("lib.py", "<module>"),
    ]


def test_recursion_and_library_frames(tmp_path):
    stderr = run_python(
        tmp_path, {"r.py": "def down(n):\n    return down(n + 1)\n\ndown(0)\n"}, "r.py"
    )
    report = parse_python_traceback(stderr)
    assert report.exc_type == "RecursionError"
    assert report.crash_frame.function == "down"
    assert "Previous line" not in report.message

    stderr = run_python(tmp_path, {"j.py": "import json\njson.loads('{')\n"}, "j.py")
    report = parse_python_traceback(stderr)
    assert (report.exc_type, report.exc_module) == ("JSONDecodeError", "json.decoder")
    assert report.frames[0].in_app and report.frames[0].filename.endswith("j.py")
    assert [f.in_app for f in report.frames[1:]] == [False] * (len(report.frames) - 1)
    assert report.crash_frame.lineno == 2


def test_exception_group(tmp_path):
    source = "def go():\n    raise ExceptionGroup('jobs failed', [ValueError('a'), KeyError('b')])\n\ngo()\n"
    report = parse_python_traceback(run_python(tmp_path, {"g.py": source}, "g.py"))
    assert (report.exc_type, report.message) == ("ExceptionGroup", "jobs failed (2 sub-exceptions)")
    assert report.crash_frame.function == "go"


def test_a_bare_exception_line_and_multiline_messages():
    report = parse_python_traceback("ValueError: bad input")
    assert (report.exc_type, report.message, report.frames) == ("ValueError", "bad input", [])
    text = 'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    check()\nAssertionError: totals differ\n  left: 3\n  right: 4\n\nunrelated log line\n'
    report = parse_python_traceback(text)
    assert report.message == "totals differ\n  left: 3\n  right: 4"


GARBAGE = [
    None,
    "",
    "hello world",
    b"\xff\xfe\x00binary",
    "Traceback (most recent call last):",
    'Traceback (most recent call last):\n  File "x.py", line 99999999999999999999, in f\n',
    '  File "", line 1\n',
    "E" * 100_000,
    "\n".join(['  File "a.py", line 1, in f'] * 5000),
    "___ test ___\nE   \n:1: \n_ _ _\n",
    "====\n___ x ___\n",
    {"not": "text"},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_never_raises(garbage):
    report = parse_python_traceback(garbage)
    assert report is None or isinstance(report, ErrorReport)
    assert isinstance(parse_pytest_output(garbage), list)
    assert parse_sentry_exception(garbage) is None or isinstance(
        parse_sentry_exception(garbage), ErrorReport
    )


@pytest.mark.parametrize(
    "line",
    [
        '  File "x.py", line 1, in f' + " " * 200_000 + "g",
        "FAILED " + "a" * 200_000,
        "=" * 200_000,
        "___ " + "_ " * 100_000,
        "x.py:1: " + "in " * 60_000,
        "(" * 100_000 + ", line 1)",
    ],
    ids=["file-line", "summary", "banner", "section", "location", "parens"],
)
def test_hostile_long_lines_finish(line):
    # Patterns that backtrack would take minutes here; these must take milliseconds.
    parse_python_traceback(line)
    parse_pytest_output(line)
    parse_sentry_exception({"exception": {"values": [{"type": "SyntaxError", "value": line}]}})


def test_every_truncation_of_real_output_parses(pytest_runs, tmp_path):
    output, _ = pytest_runs["auto"]
    lines = output.splitlines()
    for cut in range(0, len(lines), 3):
        partial = "\n".join(lines[:cut])
        assert isinstance(parse_pytest_output(partial), list)
        parse_python_traceback(partial)


def test_modules_and_library_paths():
    assert module_from_path("pkg/calc.py") == "pkg.calc"
    assert module_from_path("./pkg/__init__.py") == "pkg"
    assert module_from_path("/srv/app-v2/.venv/lib/python3.11/site-packages/requests/api.py") == (
        "requests.api"
    )
    assert module_from_path("/usr/lib/python3.11/json/decoder.py") == "json.decoder"
    assert module_from_path("<frozen importlib._bootstrap>") == "importlib._bootstrap"
    # The deploy root is unknown and may change: only the file's own name is kept.
    assert module_from_path("/tmp/sandbox-8f3a/calc.py") == module_from_path("/srv/calc.py")
    assert module_from_path("/srv/app/pkg/__init__.py") == "pkg"
    assert is_library_path("/usr/lib/python3/dist-packages/yaml/__init__.py")
    assert is_library_path("C:\\Python311\\Lib\\site-packages\\django\\db\\models.py")
    assert is_library_path("<frozen runpy>")
    assert not is_library_path("/srv/app/lib/utils.py")
    assert not is_library_path("pkg/calc.py")


def test_exception_line_and_node_ids():
    assert split_exception_line("json.decoder.JSONDecodeError: Expecting value") == (
        "json.decoder.JSONDecodeError",
        "Expecting value",
    )
    assert split_exception_line("StopIteration") == ("StopIteration", "")
    assert split_exception_line("Made it: all good") is None
    assert split_exception_line("Hint: make sure your test modules have valid names") is None
    assert node_id("tests.test_x.TestK", "test_a") == "tests/test_x.py::TestK::test_a"
    assert node_id("tests.test_x", "test_b[1-2]") == "tests/test_x.py::test_b[1-2]"
    assert node_id("", "tests.test_broken") == "tests/test_broken.py"


# --- JUnit uploads -------------------------------------------------------------------------------


def test_junit_rejects_what_is_not_junit():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><testsuite>&lol2;</testsuite>'
    )
    external = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><testsuite>&e;</testsuite>'
    for text, reason in [
        (bomb, "DOCTYPE"),
        (external, "DOCTYPE"),
        ("", "well-formed"),
        ("not xml at all", "well-formed"),
        ("<testsuite><testcase>", "well-formed"),
        ("<html><body/></html>", "root element is <html>"),
    ]:
        with pytest.raises(MalformedReport, match=reason):
            parse_junit_xml(text)


def test_junit_from_other_tools():
    xml = """<?xml version="1.0"?>
    <testsuites><testsuite name="calc">
      <testcase classname="com.acme.CalcTest" name="adds" time="0.01">
        <failure message="expected:&lt;3&gt; but was:&lt;4&gt;" type="java.lang.AssertionError">java.lang.AssertionError: expected:&lt;3&gt; but was:&lt;4&gt;
            at org.junit.Assert.fail(Assert.java:89)
            at com.acme.CalcTest.adds(CalcTest.java:12)</failure>
      </testcase>
      <testcase classname="com.acme.CalcTest" name="passes"/>
      <testcase classname="com.acme.CalcTest" name="skipped"><skipped/></testcase>
      <testcase classname="api" name="times out"><error message="Timeout after 30s"/></testcase>
    </testsuite></testsuites>"""
    first, second = parse_junit_xml(xml)
    assert (first.exc_type, first.exc_module) == ("AssertionError", "java.lang")
    assert first.message == "expected:<3> but was:<4>"
    assert first.test_name.endswith("CalcTest::adds")
    assert (second.exc_type, second.message) == ("", "Timeout after 30s")


# --- Sentry events -------------------------------------------------------------------------------

ORDERS = textwrap.dedent(
    """\
    def total(order):
        return order["price"] * order["qty"]


    def checkout(order):
        try:
            return total(order)
        except KeyError as exc:
            raise ValueError(f"order {order.get('id')} is incomplete") from exc
    """
)


class CaptureTransport(Transport):
    events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(json.loads(item.payload.get_bytes()))


@pytest.fixture
def sentry_events(tmp_path):
    """Events as the real sentry-sdk sends them, from a module on disk (so frames have source)."""
    write_files(tmp_path, {"shop/orders.py": ORDERS})
    spec = importlib.util.spec_from_file_location("shop.orders", tmp_path / "shop/orders.py")
    orders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(orders)
    CaptureTransport.events = []
    client = sentry_sdk.Client(
        dsn="http://public@selfheal.invalid/1",
        transport=CaptureTransport,
        default_integrations=False,
        project_root=str(tmp_path),
    )
    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        yield orders, scope, CaptureTransport.events
    client.close()


def test_sentry_exception_event(sentry_events):
    orders, scope, events = sentry_events
    try:
        orders.checkout({"id": 7, "price": 3})
    except ValueError:
        sentry_sdk.capture_exception()
    (event,) = events
    assert len(event["exception"]["values"]) == 2  # the KeyError, then the ValueError it caused
    report = parse_sentry_exception(event)
    assert (report.exc_type, report.message, report.source) == (
        "ValueError",
        "order 7 is incomplete",
        "sentry",
    )
    crash = report.crash_frame
    assert (crash.module, crash.function, crash.lineno) == (
        "shop.orders",
        "checkout",
        line_of(ORDERS, "raise ValueError"),
    )
    assert (
        crash.context_line
        == """raise ValueError(f"order {order.get('id')} is incomplete") from exc"""
    )
    assert crash.pre_context and crash.in_app
    assert report.custom_fingerprint == []


def test_sentry_message_event_and_custom_fingerprint(sentry_events):
    _, scope, events = sentry_events
    scope.fingerprint = ["{{ default }}", "payments"]
    sentry_sdk.capture_message("card declined for order 1234")
    (event,) = events
    report = parse_sentry_exception(event)
    assert (report.exc_type, report.message) == ("", "card declined for order 1234")
    assert report.custom_fingerprint == ["{{ default }}", "payments"]


def test_sentry_log_entry_keeps_the_template():
    event = {
        "logentry": {
            "message": "payment %s failed for %s",
            "params": [12, "bob@example.com"],
            "formatted": "payment 12 failed for bob@example.com",
        }
    }
    report = parse_sentry_exception(event)
    assert report.message == "payment 12 failed for bob@example.com"
    assert report.message_template == "payment %s failed for %s"


def test_sentry_syntax_error_and_frames_without_in_app():
    event = {
        "exception": {
            "values": [
                {
                    "type": "SyntaxError",
                    "value": "invalid syntax (calc.py, line 3)",
                    "stacktrace": {
                        "frames": [
                            {"filename": "app/main.py", "function": "<module>", "lineno": 1},
                            {
                                "abs_path": "/usr/lib/python3.11/importlib/__init__.py",
                                "function": "import_module",
                                "lineno": "126",
                            },
                        ]
                    },
                }
            ]
        }
    }
    report = parse_sentry_exception(event)
    assert (report.syntax_file, report.syntax_line) == ("calc.py", 3)
    assert [(f.module, f.in_app, f.lineno) for f in report.frames] == [
        ("app.main", True, 1),
        ("importlib", False, 126),
    ]
    assert report.crash_frame.module == "app.main"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"exception": "boom"},
        {"exception": {"values": [None, 3, "x"]}},
        {"exception": {"values": []}, "message": {"nothing": 1}},
        {"logentry": {"params": [1]}},
    ],
)
def test_sentry_payloads_without_a_failure(payload):
    assert parse_sentry_exception(payload) is None


def test_sentry_odd_field_types_are_tolerated():
    event = {
        "exception": [
            {
                "type": ["list"],
                "value": None,
                "stacktrace": {
                    "frames": [
                        None,
                        {"function": 5, "lineno": "x", "in_app": "yes", "pre_context": "no"},
                        {"filename": "a.py", "lineno": True, "context_line": {"a": 1}},
                    ]
                },
            }
        ],
        "fingerprint": "not a list",
    }
    report = parse_sentry_exception(event)
    assert (report.exc_type, report.message) == ("", "")
    assert [(f.filename, f.lineno) for f in report.frames] == [("", None), ("a.py", None)]
    assert report.custom_fingerprint == []
