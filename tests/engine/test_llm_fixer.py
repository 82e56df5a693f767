"""The LLM fixer through the real anthropic SDK, with recorded Messages API responses."""

import logging

import httpx2
import pytest

from selfheal.engine.classify import Classification
from selfheal.engine.fixers.base import FixContext, PreviousAttempt, StrategyUnavailable, Unfixable
from selfheal.engine.fixers.llm import (
    MODEL_CONFIDENCE,
    OFF_REASON,
    TOOL_NAME,
    InvalidAnswer,
    LLMFixer,
    PromptBudget,
    build_prompt,
    parse_answer,
)
from selfheal.engine.sandbox import SandboxResult, TestCaseResult
from selfheal.engine.tracebacks import ErrorReport, Frame
from tests.anthropic_replay import ReplayTransport, replay_client

MODEL = "claude-sonnet-4-6"

CALC = '''"""A small calculator."""


def add(a, b):
    return a - b


def multiply(a, b):
    return a * b
'''

TEST_CALC = """from calc import add, multiply


def test_add():
    assert add(2, 3) == 5


def test_multiply():
    assert multiply(2, 3) == 6
"""

PYTEST_OUTPUT = """F.                                                                       [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(2, 3) == 5
E       assert -1 == 5
E        +  where -1 = add(2, 3)

tests/test_calc.py:5: AssertionError
=========================== short test summary info ============================
FAILED tests/test_calc.py::test_add - assert -1 == 5
1 failed, 1 passed in 0.02s
"""

MUTATION_DIFF = """--- a/calc.py
+++ b/calc.py
@@ -4,4 +4,4 @@
 def add(a, b):
-    return a - b
+    return a * b
"""


def calc_context(**overrides) -> FixContext:
    report = ErrorReport(
        exc_type="AssertionError",
        message="assert -1 == 5",
        frames=[Frame("/sandbox/project/tests/test_calc.py", 5, "test_add")],
        test_name="tests/test_calc.py::test_add",
        source="pytest",
    )
    result = SandboxResult(
        exit_code=1,
        timed_out=False,
        stdout=PYTEST_OUTPUT,
        stderr="",
        duration=0.4,
        isolation="bwrap",
        tests=[
            TestCaseResult("tests/test_calc.py::test_add", "failed", "assert -1 == 5"),
            TestCaseResult("tests/test_calc.py::test_multiply", "passed"),
        ],
        junit_found=True,
    )
    values = dict(
        files={"calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        changed_paths=["calc.py"],
        test_command="python -m pytest -q",
        test_result=result,
        reports=[report],
        classifications=[
            Classification("assertion", "medium", "add(2, 3) returned -1, the test expects 5")
        ],
        proposal_title="Calculator: add and multiply",
        proposal_description="Adds the two basic operations.",
        original_changes=[{"path": "calc.py", "action": "modify", "content": CALC}],
        previous_attempts=[
            PreviousAttempt(
                number=1,
                strategy="mutation",
                explanation="Replaced `-` by `*` in add() at calc.py line 5.",
                diff=MUTATION_DIFF,
                outcome="failed",
                failed_tests=["tests/test_calc.py::test_add"],
                error_messages=["AssertionError: assert 6 == 5"],
            )
        ],
    )
    values.update(overrides)
    return FixContext(**values)


def fixer_for(*answers, max_retries=0) -> tuple[LLMFixer, ReplayTransport]:
    client, transport = replay_client(*answers, max_retries=max_retries)
    return LLMFixer(client, MODEL), transport


# Answers


def test_a_good_answer_becomes_a_candidate():
    fixer, transport = fixer_for("fix_calc_add")
    [candidate] = fixer.propose(calc_context())

    assert candidate.strategy == "llm"
    [edit] = candidate.patch.edits
    assert (edit.path, edit.action) == ("calc.py", "modify")
    assert edit.base_content == CALC
    assert "def add(a, b):\n    return a + b\n" in edit.content
    assert "def multiply(a, b):\n    return a * b\n" in edit.content
    assert candidate.confidence == MODEL_CONFIDENCE
    assert candidate.root_cause == "The proposal's add() subtracts instead of adding."
    assert candidate.explanation.startswith("add() returned a - b")
    assert candidate.metadata["model"] == "claude-sonnet-4-6"
    assert candidate.metadata["usage"] == {"input_tokens": 2143, "output_tokens": 231}
    assert candidate.metadata["reasons"] == [
        "calc.py: add() subtracted its arguments; it must return their sum."
    ]
    assert len(transport.requests) == 1


def test_the_request_forces_the_tool_and_carries_everything_that_failed():
    fixer, transport = fixer_for("fix_calc_add")
    fixer.propose(calc_context())

    [request] = transport.requests
    assert request.method == "POST" and request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == MODEL
    assert request.body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    [tool] = request.body["tools"]
    assert tool["name"] == TOOL_NAME
    assert tool["input_schema"]["required"] == ["unfixable", "explanation", "root_cause", "changes"]
    assert "submit_fix" in request.body["system"]

    prompt = request.prompt
    # The proposal.
    assert "Title: Calculator: add and multiply" in prompt
    assert "- modify calc.py" in prompt
    # What failed: tests, error types, root cause, error messages, output.
    assert "- tests/test_calc.py::test_add" in prompt
    assert "test_multiply" not in prompt.split("# What failed")[1].split("Error types")[0]
    assert "Error types: AssertionError (1)" in prompt
    assert "add(2, 3) returned -1, the test expects 5" in prompt
    assert "tests/test_calc.py::test_add: AssertionError: assert -1 == 5" in prompt
    assert "FAILED tests/test_calc.py::test_add - assert -1 == 5" in prompt
    # Every previous attempt: what was tried, its diff and its result.
    assert "## Attempt 1 (mutation): failed" in prompt
    assert "Replaced `-` by `*` in add() at calc.py line 5." in prompt
    assert "+    return a * b" in prompt
    assert "AssertionError: assert 6 == 5" in prompt
    # The files.
    assert "## calc.py\n```python\n" + CALC.rstrip() + "\n```" in prompt
    assert "## tests/test_calc.py" in prompt


def test_an_unfixable_answer_raises_unfixable_with_the_models_reason():
    report = ErrorReport(
        exc_type="ModuleNotFoundError",
        message="No module named 'requests'",
        frames=[Frame("/sandbox/project/tests/test_client.py", 1, "<module>")],
        test_name="tests/test_client.py",
    )
    context = calc_context(
        files={"client.py": "import requests\n", "tests/test_client.py": "import requests\n"},
        changed_paths=["client.py"],
        reports=[report],
        classifications=[
            Classification("import", "high", "the package `requests` is not installed")
        ],
        previous_attempts=[],
    )
    fixer, transport = fixer_for("unfixable_missing_package")
    with pytest.raises(Unfixable, match="third-party package `requests`"):
        fixer.propose(context)
    assert len(transport.requests) == 1
    assert "ModuleNotFoundError: No module named 'requests'" in transport.requests[0].prompt
    assert "# Previous attempts" not in transport.requests[0].prompt


def test_a_malformed_answer_gets_one_corrective_retry():
    fixer, transport = fixer_for("malformed_search_not_found", "fix_calc_add_after_correction")
    [candidate] = fixer.propose(calc_context())

    assert "return a + b" in candidate.patch.edits[0].content
    assert candidate.metadata["requests"] == 2
    assert len(transport.requests) == 2
    first, second = transport.requests
    assert second.messages[0] == first.messages[0]  # the same prompt, then the correction
    assistant, correction = second.messages[1], second.messages[2]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["id"] == "toolu_01C7uMs2No4Vq8Xd3Ze6Bf9g"
    assert assistant["content"][0]["input"]["changes"][0]["search"] == "return a-b"
    [result] = correction["content"]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == "toolu_01C7uMs2No4Vq8Xd3Ze6Bf9g"
    assert result["is_error"] is True
    assert "search text was not found" in result["content"]
    assert second.body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}


def test_malformed_twice_gives_no_candidate_and_says_why(caplog):
    fixer, transport = fixer_for("malformed_search_not_found", "malformed_unknown_action")
    with caplog.at_level(logging.WARNING, logger="selfheal.engine.fixers.llm"):
        assert fixer.propose(calc_context()) == []
    assert len(transport.requests) == 2
    assert "`action` must be one of create, modify, delete" in caplog.text


# API failures: the breaker counts StrategyUnavailable


@pytest.mark.parametrize(
    "recording, sentence, status, wait",
    [
        ("error_overloaded_529", "The Claude API is overloaded (529): Overloaded", 529, None),
        ("error_api_500", "The Claude API failed (500): Internal server error", 500, None),
        (
            "error_rate_limit_429",
            "The Claude API is rate-limiting requests (429): This request would exceed",
            429,
            12.0,
        ),
    ],
)
def test_api_errors_make_the_strategy_unavailable(recording, sentence, status, wait):
    fixer, transport = fixer_for(recording)
    with pytest.raises(StrategyUnavailable) as raised:
        fixer.propose(calc_context())
    assert str(raised.value).startswith(sentence)
    assert (raised.value.status_code, raised.value.retry_after) == (status, wait)
    assert len(transport.requests) == 1


def test_connection_failures_and_timeouts_make_the_strategy_unavailable():
    fixer, _ = fixer_for(httpx2.ConnectError("Connection refused"))
    with pytest.raises(StrategyUnavailable, match="Could not reach the Claude API"):
        fixer.propose(calc_context())
    fixer, _ = fixer_for(httpx2.ReadTimeout("timed out"))
    with pytest.raises(StrategyUnavailable, match=r"did not answer within 60 s"):
        fixer.propose(calc_context(budget_seconds=60.0))


def test_the_sdks_own_retry_rides_out_a_brief_overload():
    fixer, transport = fixer_for("error_overloaded_529_retry_soon", "fix_calc_add", max_retries=2)
    [candidate] = fixer.propose(calc_context())
    assert "return a + b" in candidate.patch.edits[0].content
    assert len(transport.requests) == 2


# Without a key


def test_without_a_key_the_fixer_is_off_and_says_so():
    with pytest.raises(StrategyUnavailable) as raised:
        LLMFixer.from_settings(api_key="", model=MODEL)
    assert str(raised.value) == OFF_REASON == "ANTHROPIC_API_KEY is not set; the LLM fixer is off"


def test_from_settings_with_a_key_builds_a_working_fixer():
    transport = ReplayTransport("fix_calc_add")
    fixer = LLMFixer.from_settings(
        api_key="sk-ant-configured",
        model="claude-haiku-4-5",
        base_url="https://llm-gateway.internal",
        http_client=httpx2.Client(transport=transport),
    )
    assert fixer.name == "llm"
    [candidate] = fixer.propose(calc_context())
    assert candidate.patch.edits[0].path == "calc.py"
    [request] = transport.requests
    assert request.url == "https://llm-gateway.internal/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-ant-configured"
    assert request.body["model"] == "claude-haiku-4-5"


# Checking answers (no API involved)


FILES = {"calc.py": CALC, "tests/test_calc.py": TEST_CALC}


def answer(*changes, **fields) -> dict:
    return {
        "unfixable": False,
        "explanation": "Fix add().",
        "root_cause": "add subtracts",
        "changes": list(changes),
        **fields,
    }


@pytest.mark.parametrize(
    "data, problem",
    [
        ("not an object", "must be an object"),
        (
            {"explanation": "x", "root_cause": "", "changes": []},
            "`unfixable` must be true or false",
        ),
        (answer(explanation=""), "`explanation` must be a non-empty string"),
        (answer(), "`changes` must list at least one change"),
        (
            answer({"file": "calc.py", "action": "rewrite", "content": "x = 1\n"}),
            "`action` must be one of",
        ),
        (
            answer({"file": "/etc/passwd", "action": "modify", "content": "x\n"}),
            "is absolute",
        ),
        (
            answer({"file": "../outside.py", "action": "create", "content": "x = 1\n"}),
            "goes up with '..'",
        ),
        (
            answer({"file": "missing.py", "action": "modify", "content": "x = 1\n"}),
            "there is no such file",
        ),
        (answer({"file": "gone.py", "action": "delete"}), "no such file to delete"),
        (answer({"file": "calc.py", "action": "create", "content": "x = 1\n"}), "already exists"),
        (answer({"file": "new.py", "action": "create"}), "`content` (the whole file) is required"),
        (
            answer(
                {
                    "file": "calc.py",
                    "action": "modify",
                    "search": "    return",
                    "replace": "    return",
                }
            ),
            "occurs 2 times",
        ),
        (
            answer({"file": "calc.py", "action": "modify", "search": "return a - b"}),
            "`replace` is required",
        ),
        (
            answer({"file": "calc.py", "action": "modify", "search": 5, "replace": "x"}),
            "`search` must be a string",
        ),
        (answer({"file": "calc.py", "action": "modify"}), "give `search` and `replace`"),
        (
            answer({"file": "calc.py", "action": "modify", "search": "a - b", "replace": "a - b"}),
            "leave every file as it was",
        ),
        (
            answer(
                {
                    "file": "calc.py",
                    "action": "modify",
                    "search": "def add(a, b):",
                    "replace": "def add(a, b)",
                }
            ),
            "calc.py does not compile at line 4",
        ),
    ],
)
def test_answers_that_do_not_fit_are_refused_with_a_reason(data, problem):
    with pytest.raises(InvalidAnswer) as raised:
        parse_answer(data, FILES)
    assert problem in str(raised.value)


def test_paths_are_normalised_before_they_are_looked_up():
    result = parse_answer(
        answer({"file": "./calc.py", "action": "modify", "search": "a - b", "replace": "a + b"}),
        FILES,
    )
    assert [edit.path for edit in result.patch.edits] == ["calc.py"]


def test_changes_apply_in_order_and_become_one_edit_per_file():
    result = parse_answer(
        answer(
            {
                "file": "calc.py",
                "action": "modify",
                "search": "a - b",
                "replace": "a + b",
                "reason": "sum",
            },
            {
                "file": "calc.py",
                "action": "modify",
                "search": "a * b",
                "replace": "b * a",
                "reason": "style",
            },
            {
                "file": "ops.py",
                "action": "create",
                "content": "from calc import add\n",
                "reason": "re-export",
            },
            {"file": "tests/test_calc.py", "action": "delete", "reason": "moved"},
        ),
        FILES,
    )
    edits = {edit.path: edit for edit in result.patch.edits}
    assert edits["calc.py"].action == "modify"
    assert "return a + b" in edits["calc.py"].content and "return b * a" in edits["calc.py"].content
    assert edits["calc.py"].base_content == CALC
    assert (edits["ops.py"].action, edits["ops.py"].content) == ("create", "from calc import add\n")
    assert (edits["tests/test_calc.py"].action, edits["tests/test_calc.py"].base_content) == (
        "delete",
        TEST_CALC,
    )


# The prompt's budget


def test_big_files_and_long_output_are_trimmed_to_the_budget():
    big = "x = 1\n" * 5_000
    context = calc_context(
        files={
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "data.py": big,
            "zzz.py": "y = 2\n",
        },
        test_result=SandboxResult(1, False, "noise\n" * 2_000 + PYTEST_OUTPUT, "", 1.0, "bwrap"),
    )
    prompt = build_prompt(context, PromptBudget(files=2_000, output=800))
    assert CALC.rstrip() in prompt  # the file the proposal changed comes first
    assert "1 failed, 1 passed in 0.02s" in prompt  # the end of the output is kept
    assert "earlier characters ...]" in prompt
    assert prompt.count("x = 1") < 400
    assert len(prompt) < 6_000
