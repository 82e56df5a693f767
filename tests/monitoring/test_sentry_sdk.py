"""The real sentry-sdk, pointed at a running selfheal through a project's DSN."""

import importlib
import sys
from contextlib import contextmanager

import pytest
import sentry_sdk
from sentry_sdk.crons import MonitorStatus, capture_checkin

from monitoring import grouping
from monitoring.dsn import dsn_for
from monitoring.models import ErrorEvent, ErrorGroup, Job

CART = '''
def total(items):
    """Average price of the items."""
    return sum(item["price"] for item in items) / len(items)


def parse_quantity(text):
    return int(text)
'''


@pytest.fixture
def shop(tmp_path):
    """A small application package on disk, so the SDK sees real files, modules and lines."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cart.py").write_text(CART)
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            del sys.modules[name]


@pytest.fixture
def reporting(live_server, project, settings):
    settings.SELFHEAL_PUBLIC_URL = live_server.url
    dsn = dsn_for(project)

    @contextmanager
    def report(**options):
        """A fresh SDK client bound to a fresh scope: nothing leaks into other tests."""
        client = sentry_sdk.Client(
            dsn=dsn,
            default_integrations=False,
            auto_enabling_integrations=False,
            in_app_include=["shop"],
            release="shop@1.0.0",
            environment="production",
            **options,
        )
        try:
            with sentry_sdk.new_scope() as scope:
                scope.set_client(client)
                yield client
        finally:
            client.flush(timeout=10)
            client.close(timeout=10)

    return report


def capture(call, *args):
    try:
        call(*args)
    except Exception as exc:  # noqa: BLE001 - reporting it is the point
        sentry_sdk.capture_exception(exc)


@pytest.mark.parametrize("compression", ["br", "gzip"])
def test_sdk_exceptions_and_messages_land_grouped(reporting, project, shop, compression):
    with reporting(_experiments={"transport_compression_algo": compression}):
        cart = importlib.import_module("shop.cart")
        capture(cart.total, [])  # ZeroDivisionError
        capture(cart.total, [])  # the same bug again
        capture(cart.total, [{"cost": 3}])  # KeyError: a different bug in the same function
        capture(cart.parse_quantity, "abc")  # ValueError with a quoted value ...
        capture(cart.parse_quantity, "12x")  # ... and another value: one group
        # The same bug after an edit moved it four lines down.
        (shop / "cart.py").write_text("import math\n\n\n\n" + CART)
        cart = importlib.reload(cart)
        capture(cart.total, [])
        sentry_sdk.capture_message("Payment provider timed out for order 1234 after 30s")
        sentry_sdk.capture_message("Payment provider timed out for order 98 after 12s")

    assert ErrorEvent.objects.filter(project=project).count() == 8
    assert grouping.group_pending_events() == 8
    groups = {(g.exc_type, g.count) for g in ErrorGroup.objects.filter(project=project)}
    assert groups == {("ZeroDivisionError", 3), ("KeyError", 1), ("ValueError", 2), ("", 2)}

    zero = ErrorGroup.objects.get(project=project, exc_type="ZeroDivisionError")
    assert zero.culprit == "shop.cart in total"
    assert zero.releases == ["shop@1.0.0"]
    linenos = {
        event.payload["exception"]["values"][-1]["stacktrace"]["frames"][-1]["lineno"]
        for event in zero.events.all()
    }
    assert linenos == {4, 8}  # two different line numbers, one group
    assert zero.category  # classified
    message = ErrorGroup.objects.get(project=project, exc_type="")
    assert "Payment provider timed out" in message.message


def test_sdk_check_ins_become_job_pings(reporting, project):
    with reporting():
        check_in_id = capture_checkin(
            monitor_slug="nightly-export", status=MonitorStatus.IN_PROGRESS
        )
        capture_checkin(
            monitor_slug="nightly-export",
            check_in_id=check_in_id,
            status=MonitorStatus.OK,
            duration=4.2,
        )

        @sentry_sdk.monitor(monitor_slug="hourly-sync")
        def sync():
            raise RuntimeError("upstream down")

        with pytest.raises(RuntimeError):
            sync()

    export = Job.objects.get(project=project, slug="nightly-export")
    run = export.runs.get()
    assert run.rid.hex == check_in_id
    assert run.status == "succeeded"
    assert [p.kind for p in export.pings.order_by("created_at")] == ["start", "success"]
    assert all(p.via == "sentry" for p in export.pings.all())

    hourly = Job.objects.get(project=project, slug="hourly-sync")
    assert hourly.status == "failed"
    assert hourly.runs.get().status == "failed"
