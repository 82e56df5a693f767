"""The `llm` strategy: Claude proposes a fix through one forced tool call, so the answer arrives as
structured data (never parsed out of free text), and is checked against the project's files before
it becomes a candidate. A malformed answer gets one corrective retry."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import anthropic
import httpx2

from ..patch import FileEdit, Patch, UnsafePath, validate_path
from ..tracebacks import ErrorReport
from .base import Candidate, FixContext, StrategyUnavailable, Unfixable

logger = logging.getLogger(__name__)

OFF_REASON = "ANTHROPIC_API_KEY is not set; the LLM fixer is off"

# What a model answer is worth before outcomes say otherwise: recorded as the model's estimate.
MODEL_CONFIDENCE = 0.6

TOOL_NAME = "submit_fix"

SUBMIT_FIX_TOOL = {
    "name": TOOL_NAME,
    "description": (
        "Submit the fix for the failing tests: the smallest set of file changes that makes the whole "
        "test suite pass, or unfixable=true with the reason when no change to the project's files "
        "can do it."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "unfixable": {
                "type": "boolean",
                "description": "true only when no change to the project's files can make the tests "
                "pass (a missing third-party package or service, tests that contradict the proposal).",
            },
            "explanation": {
                "type": "string",
                "description": "For a reviewer: what you changed and why it fixes the failure "
                "(or why it cannot be fixed).",
            },
            "root_cause": {
                "type": "string",
                "description": "The cause of the failure, one sentence.",
            },
            "changes": {
                "type": "array",
                "description": "The file changes, applied in order. Empty when unfixable.",
                "items": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "description": "Path relative to the project root, as the files are listed.",
                        },
                        "action": {"type": "string", "enum": ["create", "modify", "delete"]},
                        "search": {
                            "type": "string",
                            "description": "modify: text copied exactly from the current file "
                            "(whitespace included) that occurs exactly once in it.",
                        },
                        "replace": {
                            "type": "string",
                            "description": "modify: what replaces `search`.",
                        },
                        "content": {
                            "type": "string",
                            "description": "create: the whole file. modify: the whole new file, "
                            "only when search/replace does not fit.",
                        },
                        "reason": {"type": "string", "description": "Why this change is needed."},
                    },
                    "required": ["file", "action", "reason"],
                },
            },
        },
        "required": ["unfixable", "explanation", "root_cause", "changes"],
    },
}

SYSTEM_PROMPT = """\
You repair Python projects for selfheal. A proposal (a set of file changes) was applied to a \
project and its tests failed in a sandbox. Find the cause and submit the smallest change that makes \
the whole test suite pass.

Rules:
- Fix the code the proposal brought in, keeping what the proposal is for. Never delete, skip or \
weaken tests or their assertions to make them pass, and never special-case test inputs.
- Do not add network access, subprocesses, eval/exec or new third-party dependencies.
- Previous attempts are listed with their results: do not repeat a change that already failed.
- Prefer `modify` with `search`/`replace`: `search` is copied exactly from the file as shown and \
occurs exactly once in it. Use `content` (the whole new file) only when that does not fit.
- When no change to the project's files can make the tests pass, answer with unfixable=true and \
say why.
Answer only by calling the submit_fix tool."""


class LLMUnavailable(StrategyUnavailable):
    """The Claude API could not be used for this attempt: what a circuit breaker counts."""

    def __init__(
        self, message: str, status_code: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status_code = status_code  # None when no HTTP answer came back
        self.retry_after = retry_after  # seconds the API asked to wait, when it said so


class InvalidAnswer(ValueError):
    """The model's tool input does not fit the schema or the project's files."""


@dataclass
class Answer:
    unfixable: bool
    explanation: str
    root_cause: str
    patch: Patch = field(default_factory=Patch)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromptBudget:
    """Characters of the prompt each part may take."""

    files: int = 60_000
    output: int = 6_000
    diff: int = 4_000
    message: int = 1_000


class LLMFixer:
    name = "llm"

    def __init__(
        self,
        client: anthropic.Anthropic,
        model: str,
        *,
        max_tokens: int = 8_192,
        timeout: float = 120.0,
        confidence: float = MODEL_CONFIDENCE,
        budget: PromptBudget | None = None,
        instructions: str = "",
    ):
        self.client = client
        # Extra system instructions: what a prompt variant of an A/B experiment changes.
        self.instructions = instructions
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.confidence = confidence
        self.budget = budget or PromptBudget()

    @classmethod
    def from_settings(
        cls,
        api_key: str,
        model: str,
        base_url: str | None = None,
        http_client: httpx2.Client | None = None,
        max_retries: int = 2,
    ) -> LLMFixer:
        """The fixer for the configured key; StrategyUnavailable (with the sentence the UI shows)
        when there is no key."""
        if not api_key:
            raise StrategyUnavailable(OFF_REASON)
        client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url or None,
            http_client=http_client,
            max_retries=max_retries,
        )
        return cls(client, model)

    def propose(self, context: FixContext) -> list[Candidate]:
        messages: list[dict] = [{"role": "user", "content": build_prompt(context, self.budget)}]
        requests = 0
        for retry in (False, True):
            response = self.ask(messages, context)
            requests += 1
            tool_use = next(
                (b for b in response.content if b.type == "tool_use" and b.name == TOOL_NAME), None
            )
            try:
                if tool_use is None:
                    raise InvalidAnswer(f"The answer did not call the {TOOL_NAME} tool.")
                answer = parse_answer(tool_use.input, context.files)
            except InvalidAnswer as problem:
                if response.stop_reason == "max_tokens":
                    problem = InvalidAnswer(
                        f"{problem} The answer was cut off at the token limit: change less, "
                        "with search/replace rather than whole files."
                    )
                if retry:
                    logger.warning(
                        "LLM fixer: malformed answer after a corrective retry: %s", problem
                    )
                    return []
                logger.info("LLM fixer: malformed answer, asking again: %s", problem)
                messages.extend(corrective_messages(response, tool_use, problem))
                continue
            if answer.unfixable:
                raise Unfixable(answer.explanation)
            return [self.candidate(answer, response, requests)]
        return []

    def ask(self, messages: list[dict], context: FixContext) -> anthropic.types.Message:
        """One Messages API call with the tool forced; every API failure becomes StrategyUnavailable
        (the SDK has already retried what is worth retrying)."""
        timeout = max(10.0, min(self.timeout, context.budget_seconds))
        try:
            return self.client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=f"{SYSTEM_PROMPT}\n{self.instructions}"
                if self.instructions
                else SYSTEM_PROMPT,
                messages=messages,
                tools=[SUBMIT_FIX_TOOL],
                tool_choice={"type": "tool", "name": TOOL_NAME},
                timeout=timeout,
            )
        except anthropic.APITimeoutError as error:
            raise LLMUnavailable(
                f"The Claude API did not answer within {timeout:.0f} s."
            ) from error
        except anthropic.APIConnectionError as error:
            raise LLMUnavailable(f"Could not reach the Claude API: {error.message}") from error
        except anthropic.APIStatusError as error:
            raise LLMUnavailable(
                describe_status_error(error), error.status_code, retry_after(error.response)
            ) from error
        except anthropic.AnthropicError as error:
            raise LLMUnavailable(f"The Claude API call failed: {error}") from error

    def candidate(
        self, answer: Answer, response: anthropic.types.Message, requests: int
    ) -> Candidate:
        return Candidate(
            strategy=self.name,
            patch=answer.patch,
            explanation=answer.explanation,
            confidence=self.confidence,
            rule=self.model,
            root_cause=answer.root_cause,
            metadata={
                "model": response.model,
                "message_id": response.id,
                "requests": requests,
                "usage": {
                    "input_tokens": response.usage.input_tokens,
                    "output_tokens": response.usage.output_tokens,
                },
                "reasons": answer.reasons,
                "confidence_source": "a fixed estimate for model answers, not a measured rate",
            },
        )


def retry_after(response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, TypeError, ValueError):
        return None


def describe_status_error(error: anthropic.APIStatusError) -> str:
    status = error.status_code
    detail = error.api_message or error.message
    if status == 429:
        return f"The Claude API is rate-limiting requests (429): {detail}"
    if status == 529:
        return f"The Claude API is overloaded (529): {detail}"
    if status >= 500:
        return f"The Claude API failed ({status}): {detail}"
    if status in (401, 403):
        return f"The Claude API refused the API key ({status}): {detail}"
    return f"The Claude API rejected the request ({status}): {detail}"


def corrective_messages(
    response: anthropic.types.Message, tool_use, problem: InvalidAnswer
) -> list[dict]:
    """The model's answer as it was, then the problem with it, as the error result of its tool
    call when there was one."""
    instruction = f"{problem} Call {TOOL_NAME} again with a corrected answer."
    assistant = [block_param(block) for block in response.content]
    assistant = [block for block in assistant if block is not None]
    messages: list[dict] = []
    if assistant:
        messages.append({"role": "assistant", "content": assistant})
    if tool_use is not None:
        result = {
            "type": "tool_result",
            "tool_use_id": tool_use.id,
            "is_error": True,
            "content": instruction,
        }
        messages.append({"role": "user", "content": [result]})
    else:
        messages.append({"role": "user", "content": instruction})
    return messages


def block_param(block) -> dict | None:
    if block.type == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return None


# Reading the answer


def parse_answer(data: object, files: dict[str, str]) -> Answer:
    """Check the tool input against the schema and the files, and turn it into a Patch."""
    if not isinstance(data, dict):
        raise InvalidAnswer("The tool input must be an object.")
    unfixable = data.get("unfixable")
    explanation = data.get("explanation")
    root_cause = data.get("root_cause", "")
    if not isinstance(unfixable, bool):
        raise InvalidAnswer("`unfixable` must be true or false.")
    if not isinstance(explanation, str) or not explanation.strip():
        raise InvalidAnswer("`explanation` must be a non-empty string.")
    if not isinstance(root_cause, str):
        raise InvalidAnswer("`root_cause` must be a string.")
    if unfixable:
        return Answer(True, explanation.strip(), root_cause.strip())
    changes = data.get("changes")
    if not isinstance(changes, list) or not changes:
        raise InvalidAnswer("`changes` must list at least one change when unfixable is false.")
    current: dict[str, str | None] = dict(files)
    reasons = []
    for number, change in enumerate(changes, start=1):
        path = apply_change(current, change, number)
        reasons.append(f"{path}: {change.get('reason', '')}".strip())
    edits = []
    for path in sorted(current):
        before, after = files.get(path), current[path]
        if before == after:
            continue
        if after is None:
            edits.append(FileEdit(path, "delete", base_content=before))
        elif before is None:
            edits.append(FileEdit(path, "create", after))
        else:
            edits.append(FileEdit(path, "modify", after, base_content=before))
    if not edits:
        raise InvalidAnswer("The changes leave every file as it was.")
    for edit in edits:
        check_compiles(edit)
    return Answer(False, explanation.strip(), root_cause.strip(), Patch(edits), reasons)


def apply_change(current: dict[str, str | None], change: object, number: int) -> str:
    """Apply one change to `current`; the path it changed."""
    where = f"Change {number}"
    if not isinstance(change, dict):
        raise InvalidAnswer(f"{where} must be an object.")
    path, action = change.get("file"), change.get("action")
    if not isinstance(path, str) or not path:
        raise InvalidAnswer(f"{where}: `file` must be a path relative to the project root.")
    path = check_path(path, where)
    where = f"{where} ({action} {path})"
    exists = current.get(path) is not None
    for key in ("search", "replace", "content"):
        if key in change and not isinstance(change[key], str):
            raise InvalidAnswer(f"{where}: `{key}` must be a string.")
    if action == "delete":
        if not exists:
            raise InvalidAnswer(f"{where}: there is no such file to delete.")
        current[path] = None
    elif action == "create":
        if exists:
            raise InvalidAnswer(f"{where}: the file already exists; use action `modify`.")
        if "content" not in change:
            raise InvalidAnswer(
                f"{where}: `content` (the whole file) is required to create a file."
            )
        current[path] = change["content"]
    elif action == "modify":
        if not exists:
            raise InvalidAnswer(
                f"{where}: there is no such file; the files are listed in the prompt."
            )
        text = current[path] or ""
        if change.get("search"):
            if "replace" not in change:
                raise InvalidAnswer(f"{where}: `replace` is required with `search`.")
            found = text.count(change["search"])
            if found != 1:
                how = "was not found" if not found else f"occurs {found} times"
                raise InvalidAnswer(
                    f"{where}: the search text {how} in the file; copy it exactly from the file "
                    "(whitespace included) with enough context to occur exactly once."
                )
            current[path] = text.replace(change["search"], change["replace"], 1)
        elif "content" in change:
            current[path] = change["content"]
        else:
            raise InvalidAnswer(
                f"{where}: give `search` and `replace`, or the whole new `content`."
            )
    else:
        raise InvalidAnswer(f"{where}: `action` must be one of create, modify, delete.")
    return path


def check_path(path: str, where: str) -> str:
    """The path normalised ("./a.py" -> "a.py"), or InvalidAnswer when it is absolute, goes up
    with `..` or is otherwise unsafe."""
    try:
        return validate_path(path)
    except UnsafePath as error:
        raise InvalidAnswer(f"{where}: {error}.") from error


def check_compiles(edit: FileEdit) -> None:
    """A Python file the answer writes must at least compile (compiling runs nothing)."""
    if edit.action == "delete" or not edit.path.endswith(".py"):
        return
    try:
        compile(edit.content, edit.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None)
        at = f" at line {line}" if line else ""
        raise InvalidAnswer(
            f"After the changes {edit.path} does not compile{at}: {getattr(error, 'msg', error)}."
        ) from error


# The prompt


def build_prompt(context: FixContext, budget: PromptBudget) -> str:
    sections = [
        proposal_section(context),
        failure_section(context, budget),
        attempts_section(context, budget),
        files_section(context, budget),
    ]
    return "\n\n".join(section for section in sections if section)


def proposal_section(context: FixContext) -> str:
    lines = ["# The proposal", f"Title: {context.proposal_title or '(none)'}"]
    if context.proposal_description:
        lines.append(f"Description: {context.proposal_description}")
    if context.original_changes:
        lines.append("Changes it made:")
        for change in context.original_changes:
            lines.append(f"- {change.get('action', 'modify')} {change.get('path', '?')}")
    return "\n".join(lines)


def error_location(report: ErrorReport) -> str:
    if report.syntax_file:
        return (
            f"{report.syntax_file}:{report.syntax_line}"
            if report.syntax_line
            else report.syntax_file
        )
    frame = report.crash_frame
    if frame is None:
        return ""
    return f"{frame.filename}:{frame.lineno}" if frame.lineno else frame.filename


def failure_section(context: FixContext, budget: PromptBudget) -> str:
    result = context.test_result
    lines = ["# What failed", f"Test command: {context.test_command}"]
    if result.timed_out:
        lines.append("The test run timed out.")
    failed = [test.name for test in result.failed_tests] or sorted(
        {r.test_name for r in context.reports if r.test_name}
    )
    if failed:
        lines.append("Failed tests:")
        lines.extend(f"- {name}" for name in failed)
    types = Counter(r.exc_type for r in context.reports if r.exc_type)
    if types:
        lines.append("Error types: " + ", ".join(f"{t} ({n})" for t, n in types.most_common()))
    causes = list(dict.fromkeys(c.root_cause for c in context.classifications if c.root_cause))
    categories = list(dict.fromkeys(c.category for c in context.classifications if c.category))
    if categories:
        lines.append("Categories: " + ", ".join(categories))
    if causes:
        lines.append("Root cause (from the analysis):")
        lines.extend(f"- {cause}" for cause in causes)
    messages = []
    for report in context.reports:
        error = f"{report.exc_type}: {report.message}" if report.exc_type else report.message
        location = error_location(report)
        test = f"{report.test_name}: " if report.test_name else ""
        messages.append(
            trim(f"{test}{error}" + (f" (at {location})" if location else ""), budget.message)
        )
    if messages:
        lines.append("Error messages:")
        lines.extend(f"- {message}" for message in dict.fromkeys(messages))
    output = "\n".join(part for part in (result.stdout, result.stderr) if part.strip())
    if output:
        lines.append("Test output (the end of it):")
        lines.append(fenced(trim_head(output, budget.output), ""))
    return "\n".join(lines)


def attempts_section(context: FixContext, budget: PromptBudget) -> str:
    if not context.previous_attempts:
        return ""
    lines = ["# Previous attempts (each was tried and did not make every test pass)"]
    for attempt in context.previous_attempts:
        lines.append(f"## Attempt {attempt.number} ({attempt.strategy}): {attempt.outcome}")
        lines.append(f"What was tried: {attempt.explanation or '(no explanation)'}")
        if attempt.diff:
            lines.append(fenced(trim(attempt.diff, budget.diff), "diff"))
        result = f"Result: {attempt.outcome}"
        if attempt.failed_tests:
            result += "; still failing: " + ", ".join(attempt.failed_tests)
        lines.append(result)
        if attempt.error_messages:
            lines.append("Errors after it:")
            lines.extend(f"- {trim(message, budget.message)}" for message in attempt.error_messages)
    return "\n".join(lines)


def relevant_paths(context: FixContext) -> list[str]:
    """Files in the order they matter: where the errors happened, what the proposal changed, the
    failing tests, then the rest of the project."""
    files = context.files
    named: list[str] = []
    for report in context.reports:
        names = [report.syntax_file] + [frame.filename for frame in reversed(report.frames)]
        names.append(report.test_name.split("::")[0])
        for name in names:
            path = locate(name, files)
            if path:
                named.append(path)
    named += [path for path in context.changed_paths if path in files]
    named += [
        test.name.split("::")[0]
        for test in context.test_result.failed_tests
        if test.name.split("::")[0] in files
    ]
    rest = sorted(files, key=lambda path: (not path.endswith(".py"), path))
    return list(dict.fromkeys(named + rest))


def locate(filename: str, files: dict[str, str]) -> str | None:
    if not filename:
        return None
    filename = filename.replace("\\", "/").removeprefix("./")
    if filename in files:
        return filename
    matches = [path for path in files if filename.endswith("/" + path)]
    return max(matches, key=len) if matches else None


def files_section(context: FixContext, budget: PromptBudget) -> str:
    lines = ["# The project's files (with the proposal's changes applied)"]
    remaining = budget.files
    left_out = []
    must_show = set(relevant_paths(context)[: len(context.changed_paths) + 8])
    for path in relevant_paths(context):
        content = context.files[path]
        if len(content) <= remaining:
            shown = content
        elif path in must_show and remaining > 500:
            shown = (
                content[:remaining]
                + f"\n[... {len(content) - remaining} more characters not shown ...]"
            )
        else:
            left_out.append(path)
            continue
        remaining -= len(shown)
        lines.append(f"## {path}")
        lines.append(fenced(shown, "python" if path.endswith(".py") else ""))
    if left_out:
        lines.append(
            "Other files (not shown, to stay within the prompt budget): " + ", ".join(left_out)
        )
    return "\n".join(lines)


def fenced(text: str, language: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def trim(text: str, limit: int) -> str:
    """The start of `text`, at most `limit` characters."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" [... {len(text) - limit} more characters]"


def trim_head(text: str, limit: int) -> str:
    """The end of `text`, at most `limit` characters (test output says the most at its end)."""
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters ...]\n" + text[-limit:]
