from datetime import UTC, datetime, timedelta

import pytest

from patterns import services
from patterns.models import BreakerTransition, CircuitBreaker
from patterns.services import breakers
from selfheal.engine.classify import Classification
from selfheal.engine.fixers.base import FixContext, StrategyUnavailable, Unfixable
from selfheal.engine.fixers.llm import LLMFixer
from selfheal.engine.sandbox import SandboxResult, TestCaseResult
from selfheal.engine.tracebacks import ErrorReport, Frame
from tests.anthropic_replay import replay_client

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.moment = START

    def __call__(self):
        return self.moment

    def advance(self, seconds: float):
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(breakers, "now", clock)
    return clock


class FlakyFixer:
    """A fixer whose outside service is down until it is healed."""

    name = "flaky"

    def __init__(self):
        self.healthy = False
        self.calls = 0

    def propose(self, context):
        self.calls += 1
        if not self.healthy:
            raise StrategyUnavailable("the service answered 503")
        return ["a candidate"]


def configure(name: str, **fields) -> None:
    services.get_breaker(name)
    CircuitBreaker.objects.filter(name=name).update(**fields)


def test_the_breaker_opens_under_failures_refuses_then_recovers_with_one_probe(clock):
    configure("flaky", min_calls=3, cool_down_seconds=30)
    flaky = FlakyFixer()
    guarded = services.BreakerGuardedFixer(flaky, "flaky")
    assert guarded.name == "flaky"
    for _ in range(3):
        with pytest.raises(StrategyUnavailable, match="503"):
            guarded.propose(None)
        clock.advance(1)
    assert services.breaker_status("flaky").state == "open"

    with pytest.raises(
        StrategyUnavailable,
        match=r"circuit 'flaky' is open since 2026-06-01 12:00:02 UTC; next probe at 2026-06-01 12:00:32 UTC",
    ):
        guarded.propose(None)
    assert flaky.calls == 3  # refused without calling the service

    clock.advance(30)
    flaky.healthy = True
    assert guarded.propose(None) == ["a candidate"]
    status = services.breaker_status("flaky")
    assert status.state == "closed"
    assert [(t["from"], t["to"]) for t in reversed(status.transitions)] == [
        ("closed", "open"), ("open", "half_open"), ("half_open", "closed")
    ]  # fmt: skip
    assert "failure rate 100% over the last 3 calls" in status.transitions[-1]["reason"]
    assert (status.total_successes, status.total_failures) == (1, 3)


def test_a_failed_probe_reopens_with_a_doubled_cool_down(clock):
    configure("flaky", min_calls=2, cool_down_seconds=10, max_cool_down_seconds=100)
    flaky = FlakyFixer()
    for _ in range(2):
        with pytest.raises(StrategyUnavailable):
            services.call_with_breaker("flaky", flaky.propose, None)
    clock.advance(11)
    with pytest.raises(StrategyUnavailable, match="503"):  # the probe itself, failing
        services.call_with_breaker("flaky", flaky.propose, None)
    row = CircuitBreaker.objects.get(name="flaky")
    assert row.state == "open"
    assert row.next_probe_at == clock() + timedelta(seconds=20)


def test_only_one_probe_at_a_time(clock):
    configure("slow", min_calls=1, cool_down_seconds=5)
    with pytest.raises(StrategyUnavailable):
        services.call_with_breaker("slow", FlakyFixer().propose, None)
    clock.advance(6)

    def probe_that_sees_a_second_caller():
        with pytest.raises(StrategyUnavailable, match="half-open: a probe call is in flight"):
            services.call_with_breaker("slow", lambda: "second")
        return "probe"

    assert services.call_with_breaker("slow", probe_that_sees_a_second_caller) == "probe"
    assert services.breaker_status("slow").state == "closed"


def test_unfixable_is_an_answer_and_other_errors_are_not_counted(clock):
    configure("svc", min_calls=1)

    def unfixable():
        raise Unfixable("no code change can fix this")

    def bug():
        raise KeyError("oops")

    with pytest.raises(Unfixable):
        services.call_with_breaker("svc", unfixable)
    with pytest.raises(KeyError):
        services.call_with_breaker("svc", bug)
    row = CircuitBreaker.objects.get(name="svc")
    assert (row.state, row.total_successes, row.total_failures) == ("closed", 1, 0)


def test_webhook_style_callers_choose_what_counts_as_a_failure(clock):
    configure("webhook", min_calls=2)

    def post():
        raise ConnectionError("refused")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            services.call_with_breaker("webhook", post, failure_exceptions=(OSError,))
    assert services.breaker_status("webhook").state == "open"


def test_closing_by_hand_is_recorded(clock):
    configure("svc", min_calls=1)
    with pytest.raises(StrategyUnavailable):
        services.call_with_breaker("svc", FlakyFixer().propose, None)
    services.reset_breaker("svc", "closed by hand by ops")
    assert services.breaker_status("svc").state == "closed"
    assert (
        BreakerTransition.objects.filter(breaker__name="svc").first().reason
        == "closed by hand by ops"
    )


CALC = '"""A small calculator."""\n\n\ndef add(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return a * b\n'
TEST_CALC = "from calc import add, multiply\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_multiply():\n    assert multiply(2, 3) == 6\n"


def calc_context() -> FixContext:
    report = ErrorReport("AssertionError", "assert -1 == 5", frames=[Frame("/sandbox/project/tests/test_calc.py", 5, "test_add")],
                         test_name="tests/test_calc.py::test_add", source="pytest")  # fmt: skip
    result = SandboxResult(exit_code=1, timed_out=False, stdout="", stderr="", duration=0.4, isolation="bwrap",
                           tests=[TestCaseResult("tests/test_calc.py::test_add", "failed", "assert -1 == 5")], junit_found=True)  # fmt: skip
    return FixContext(files={"calc.py": CALC, "tests/test_calc.py": TEST_CALC}, changed_paths=["calc.py"],
                      test_command="python -m pytest -q", test_result=result, reports=[report],
                      classifications=[Classification("assertion", "medium", "add(2, 3) returned -1")])  # fmt: skip


def test_the_breaker_opens_under_a_failing_recorded_transport_and_recovers_when_it_heals(clock):
    """The real LLM fixer and the real anthropic SDK; only the HTTP answers are recorded ones."""
    configure("llm", min_calls=3, cool_down_seconds=60)
    client, transport = replay_client(
        "error_api_500", "error_overloaded_529", "error_api_500", "fix_calc_add"
    )
    guarded = services.BreakerGuardedFixer(LLMFixer(client, "claude-sonnet-4-6"), "llm")
    for _ in range(3):
        with pytest.raises(StrategyUnavailable, match="The Claude API"):
            guarded.propose(calc_context())
        clock.advance(5)
    with pytest.raises(StrategyUnavailable, match="circuit 'llm' is open"):
        guarded.propose(calc_context())
    assert len(transport.requests) == 3  # no request while open

    clock.advance(60)  # the API healed: the probe gets the recorded good answer
    (candidate,) = guarded.propose(calc_context())
    assert candidate.strategy == "llm" and "return a + b" in candidate.patch.edits[0].content
    assert transport.exhausted
    assert services.breaker_status("llm").state == "closed"
