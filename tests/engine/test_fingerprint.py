"""Grouping: one bug is one fingerprint, whatever its line numbers and ids; different bugs differ."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import traceback
import uuid

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from selfheal.engine.fingerprint import (
    default_components,
    fingerprint,
    fingerprint_components,
    normalise_message,
)
from selfheal.engine.tracebacks import (
    ErrorReport,
    Frame,
    parse_python_traceback,
    parse_sentry_exception,
)

ORDERS = textwrap.dedent(
    """\
    def price_of(order):
        return order["price"]


    def quantity_of(order):
        return order["qty"]


    def total(order):
        return price_of(order) * quantity_of(order)


    def load(order_id, owner, when, url):
        raise LookupError(f"order {order_id} of {owner} (placed {when}, see {url}) not found")


    def ship(order):
        return order.address.city
    """
)


def load_module(directory, source: str, name: str = "shop.orders"):
    path = directory / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report_of(call, *args) -> ErrorReport:
    """Call real code and parse the traceback Python prints for its exception."""
    try:
        call(*args)
    except Exception:  # noqa: BLE001 - any failure is what we want to see
        report = parse_python_traceback(traceback.format_exc(), project_files=["shop/orders.py"])
        assert report is not None
        return report
    raise AssertionError("the call did not fail")


@pytest.fixture
def orders(tmp_path):
    return load_module(tmp_path / "v1", ORDERS)


@pytest.fixture
def shifted_orders(tmp_path):
    """The same code after someone added lines above every function."""
    source = '"""Orders."""\n\nimport logging\n\nlog = logging.getLogger(__name__)\n\n\n' + ORDERS
    return load_module(tmp_path / "v2", source.replace("    return", "    # checked\n    return"))


def test_same_bug_on_other_lines_is_one_fingerprint(orders, shifted_orders):
    before = report_of(orders.total, {"price": 3})
    after = report_of(shifted_orders.total, {"price": 3})
    assert before.crash_frame.lineno != after.crash_frame.lineno
    assert fingerprint(before) == fingerprint(after)
    assert not any(str(f.lineno) in fingerprint_components(before) for f in before.frames)


def test_different_bugs_are_different_fingerprints(orders):
    missing_qty = report_of(orders.total, {"price": 3})
    missing_price = report_of(orders.total, {"qty": 3})  # fails one function earlier
    no_address = report_of(orders.ship, object())
    wrong_type = report_of(orders.total, {"price": "3", "qty": "2"})
    prints = {fingerprint(r) for r in (missing_qty, missing_price, no_address, wrong_type)}
    assert len(prints) == 4


def test_ids_uuids_emails_urls_and_dates_do_not_split_a_group(orders):
    by_number = [
        report_of(orders.load, 17, "ann@example.com", "2024-05-01T10:22:33Z", "https://shop.example.com/o/17"),
        report_of(orders.load, 90210, "bob.smith+x@mail.example.org", "2025-12-31 23:59:59", "http://10.0.0.7:8000/o/90210?full=1"),
        report_of(orders.load, 3, "c@d.io", "01/02/2026", "https://shop.example.com/o/x"),
    ]  # fmt: skip
    assert len({fingerprint(r) for r in by_number}) == 1
    assert fingerprint_components(by_number[0])[-1] == (
        "order <num> of <email> (placed <date>, see <url>) not found"
    )
    by_uuid = [
        report_of(orders.load, uuid.uuid4(), "ann@example.com", "2024-05-01", "https://a.example")
        for _ in range(2)
    ]
    assert by_uuid[0].message != by_uuid[1].message
    assert fingerprint(by_uuid[0]) == fingerprint(by_uuid[1])
    assert fingerprint_components(by_uuid[0])[-1] == (
        "order <uuid> of <email> (placed <date>, see <url>) not found"
    )


def test_quoted_values_and_paths_are_parameterised(orders):
    missing_a = report_of(orders.total, {"qty": 1})
    missing_b = ErrorReport(
        exc_type="KeyError", message="'amount'", frames=missing_a.frames, source="python"
    )
    assert fingerprint(missing_a) == fingerprint(missing_b)
    one = ErrorReport("FileNotFoundError", "[Errno 2] No such file or directory: '/srv/a/1.csv'")
    two = ErrorReport("FileNotFoundError", "[Errno 2] No such file or directory: '/tmp/b.csv'")
    assert fingerprint(one) == fingerprint(two)


def test_library_frames_do_not_count_when_the_app_has_frames():
    app = Frame("shop/orders.py", 9, "total", "shop.orders")
    old_lib = Frame(
        "/venv/lib/python3.11/site-packages/lib/v1.py", 5, "_go", "lib.v1", in_app=False
    )
    new_lib = Frame(
        "/venv/lib/python3.11/site-packages/lib/v2.py", 80, "go_", "lib.v2", in_app=False
    )
    first = ErrorReport("ValueError", "bad", frames=[app, old_lib])
    second = ErrorReport("ValueError", "bad", frames=[app, new_lib])
    assert fingerprint(first) == fingerprint(second)
    # With no app frames at all, the library's frames are all there is to tell bugs apart.
    assert fingerprint(ErrorReport("ValueError", "bad", frames=[old_lib])) != fingerprint(
        ErrorReport("ValueError", "bad", frames=[new_lib])
    )


def test_recursion_depth_does_not_split_a_group():
    def recursion(depth: int) -> ErrorReport:
        frames = [Frame("app.py", 1, "<module>", "app")]
        frames += [Frame("tree.py", 4, "walk", "tree") for _ in range(depth)]
        return ErrorReport("RecursionError", "maximum recursion depth exceeded", frames=frames)

    assert fingerprint(recursion(40)) == fingerprint(recursion(977))


def test_syntax_errors_group_by_file_not_line():
    def syntax(file: str, line: int) -> ErrorReport:
        frames = [
            Frame("/usr/lib/python3.11/importlib/__init__.py", 126, "import_module", in_app=False)
        ]
        return ErrorReport(
            "SyntaxError", "invalid syntax", frames=frames, syntax_file=file, syntax_line=line
        )

    assert fingerprint(syntax("pkg/calc.py", 3)) == fingerprint(syntax("pkg/calc.py", 40))
    assert fingerprint(syntax("pkg/calc.py", 3)) != fingerprint(syntax("pkg/report.py", 3))


def test_custom_fingerprint_wins_and_expands_default(orders):
    report = report_of(orders.total, {"price": 3})
    default = fingerprint(report)
    assert fingerprint(report, ["{{ default }}"]) == default
    assert fingerprint(report, ["{{default}}"]) == default
    tenant_a = fingerprint(report, ["{{ default }}", "tenant-a"])
    tenant_b = fingerprint(report, ["{{ default }}", "tenant-b"])
    assert len({default, tenant_a, tenant_b}) == 3
    assert fingerprint_components(report, ["{{ default }}", "tenant-a"]) == [
        *default_components(report),
        "tenant-a",
    ]
    # A plain custom fingerprint puts different errors in one group on purpose.
    other = report_of(orders.ship, object())
    assert fingerprint(report, ["database-down"]) == fingerprint(other, ["database-down"])
    assert fingerprint_components(report, ["{{ type }}", "{{ function }}"]) == [
        "KeyError",
        "quantity_of",
    ]
    # An empty list is no override (Sentry's rule too).
    assert fingerprint(report, []) == default


class CaptureTransport(Transport):
    events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(json.loads(item.payload.get_bytes()))


@pytest.fixture
def sentry_scope(tmp_path):
    CaptureTransport.events = []
    client = sentry_sdk.Client(
        dsn="http://public@selfheal.invalid/1",
        transport=CaptureTransport,
        default_integrations=False,
        project_root=str(tmp_path),
    )
    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        yield scope, CaptureTransport.events
    client.close()


def test_sentry_events_group_like_the_design_says(sentry_scope, orders, shifted_orders):
    scope, events = sentry_scope
    for module in (orders, shifted_orders, orders):
        try:
            module.total({"price": 3})
        except KeyError:
            sentry_sdk.capture_exception()
    try:
        orders.ship(object())
    except AttributeError:
        sentry_sdk.capture_exception()
    scope.fingerprint = ["{{ default }}", "checkout"]
    try:
        orders.total({"price": 3})
    except KeyError:
        sentry_sdk.capture_exception()
    scope.fingerprint = None
    sentry_sdk.capture_message("payment 1234 failed after 3 retries")
    sentry_sdk.capture_message("payment 98 failed after 5 retries")

    prints = [fingerprint(parse_sentry_exception(event)) for event in events]
    same_bug, same_bug_shifted, again, other_bug, custom, message_a, message_b = prints
    assert same_bug == same_bug_shifted == again
    assert len({same_bug, other_bug, custom, message_a}) == 4
    assert message_a == message_b


def test_log_templates_group_messages():
    first = parse_sentry_exception(
        {"logentry": {"message": "no stock for %s", "formatted": "no stock for blue shirt"}}
    )
    second = parse_sentry_exception(
        {"logentry": {"message": "no stock for %s", "formatted": "no stock for red hat"}}
    )
    assert fingerprint(first) == fingerprint(second)


def test_fingerprint_is_the_same_in_another_process():
    report = ErrorReport(
        "KeyError",
        "'qty'",
        frames=[Frame("shop/orders.py", 6, "quantity_of", "shop.orders")],
    )
    code = (
        "from selfheal.engine.fingerprint import fingerprint\n"
        "from selfheal.engine.tracebacks import ErrorReport, Frame\n"
        "print(fingerprint(ErrorReport('KeyError', \"'qty'\", "
        "frames=[Frame('shop/orders.py', 6, 'quantity_of', 'shop.orders')])))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert completed.stdout.strip() == fingerprint(report)
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint(report))


@pytest.mark.parametrize(
    "message, expected",
    [
        ("name 'os' is not defined", "name <str> is not defined"),
        ("User 1234 not found", "User <num> not found"),
        ("took 1.5s (limit 250ms, 12%)", "took <num>s (limit <num>ms, <num>%)"),
        ("id 6f1c2a34-9b7d-4e4f-8c1a-2b3c4d5e6f70", "id <uuid>"),
        ("id 6f1c2a349b7d4e4f8c1a2b3c4d5e6f70", "id <uuid>"),
        ("<Order object at 0x7f50975b1f50>", "<Order object at <hex>>"),
        ("commit deadbeef1234 missing", "commit <hex> missing"),
        ("mail bob.smith+tag@mail.example.org bounced", "mail <email> bounced"),
        ("GET https://api.example.com/v1/users/42?x=1 -> 500", "GET <url> -> <num>"),
        ("at 2024-05-01T10:22:33.123+02:00 and 10:22:33", "at <date> and <date>"),
        ("on Mon, 01 Jan 2024 10:00:00 GMT", "on <date>"),
        ("peer 192.168.1.20:5432 reset", "peer <ip> reset"),
        ("cannot open /var/log/app/2024/x.log", "cannot open <path>"),
        ("cannot open C:\\Users\\bob\\x.txt", "cannot open <path>"),
        ('server at "db.internal", port 5432', "server at <str>, port <num>"),
        ("can't parse it's value", "can't parse it's value"),
        ("line 1 column 2 (char 1)", "line <num> column <num> (char <num>)"),
        ("py311 utf8 user_123 km/h", "py311 utf8 user_123 km/h"),
        ("  spread \n over\tlines  ", "spread over lines"),
        ("list index out of range", "list index out of range"),
    ],
)
def test_normalise_message(message, expected):
    assert normalise_message(message) == expected


def test_normalise_message_is_linear_on_hostile_input():
    # Long runs that a careless pattern would backtrack on: this must finish, not hang.
    for text in ["'" * 50_000, "a@" * 20_000, "/" * 50_000, "1." * 30_000, "0x" * 30_000]:
        assert isinstance(normalise_message(text), str)
