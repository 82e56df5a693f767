"""A stable signature for an error, so that occurrences of one bug land in one group.

Default components: the exception type, the in-app frames as "module:function" (never line numbers:
an edit above the bug must not split its group), and the message's first line with variable parts
replaced by placeholders. A syntax error is grouped by the file the parser stopped in instead of the
frames (which only show who imported it). A client-sent fingerprint (Sentry style, a list of strings)
wins; its "{{ default }}" expands to the default components.
"""

from __future__ import annotations

import hashlib
import json
import re

from .tracebacks import ErrorReport, Frame, module_from_path

MAX_FINGERPRINT_FRAMES = 30  # the innermost ones; deep recursion must not make every event unique
MAX_MESSAGE_CHARS = 500

# One alternation, tried left to right at each position, so one pass replaces everything and an
# earlier kind wins over a later one starting at the same place (a URL is not also a path).
# Repetitions that could run to the end of the text and back are bounded: messages are untrusted,
# and an unbounded `[\w.]+@` takes quadratic time on "1.1.1.1...".
_PLACEHOLDERS = [
    ("url", r"\b[a-z][a-z0-9+.\-]{0,30}://[^\s'\"<>()\[\]{}]+"),
    ("email", r"\b[\w.+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){1,8}\b"),
    ("uuid", r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b"),
    (
        "date",
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+\-]\d{2}:?\d{2})?)?\b"
        r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        r"|\b\d{1,2}/\d{1,2}/\d{4}\b"
        r"|\b(?:mon|tue|wed|thu|fri|sat|sun), \d{1,2} [a-z]{3} \d{4}(?: \d{2}:\d{2}:\d{2})?(?: gmt| [+\-]\d{4})?",
    ),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"),
    ("hex", r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b"),
    (
        "path",
        r"(?<![\w.<>/])(?:[a-z]:\\[^\s'\"]+|(?:\.{1,2}|~)?/(?:[\w.\-@+~]+/)*[\w.\-@+~]*[\w\-@+~])",
    ),
    ("str", r"(?<!\w)'(?:[^'\\\n]|\\.){0,400}'(?!\w)|(?<!\w)\"(?:[^\"\\\n]|\\.){0,400}\"(?!\w)"),
    ("num", r"(?<![\w.])[\-+]?\d+(?:\.\d+)?(?:e[\-+]?\d+)?(?=[a-z%]{0,3}\b|\W|$)"),
]
# Every kind starts where a word does; saying so up front lets most positions fail at once.
_PLACEHOLDER_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PLACEHOLDERS) + ")",
    re.IGNORECASE,
)
_TOKENS = {name: f"<{name}>" for name, _ in _PLACEHOLDERS}
_WHITESPACE_RE = re.compile(r"\s+")
_VARIABLE_RE = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")


def _placeholder(match: re.Match) -> str:
    return _TOKENS[match.lastgroup]


def normalise_message(message: str) -> str:
    """The message with its variable parts replaced: numbers <num>, hex <hex>, uuids <uuid>,
    e-mails <email>, URLs <url>, IP addresses <ip>, dates and times <date>, file paths <path> and
    quoted values <str>; whitespace collapsed."""
    return _WHITESPACE_RE.sub(" ", _PLACEHOLDER_RE.sub(_placeholder, message)).strip()


def _frame_key(frame: Frame) -> str:
    module = frame.module or module_from_path(frame.filename) or frame.filename
    return f"{module}:{frame.function}"


def _frame_keys(report: ErrorReport) -> list[str]:
    frames = [f for f in report.frames if f.in_app] or report.frames
    keys: list[str] = []
    for frame in frames:
        key = _frame_key(frame)
        if not keys or keys[-1] != key:  # direct recursion: depth varies, the bug does not
            keys.append(key)
    return keys[-MAX_FINGERPRINT_FRAMES:]


def _message_key(report: ErrorReport) -> str:
    message = (report.message_template or report.message).strip()
    return normalise_message(message.split("\n", 1)[0][:MAX_MESSAGE_CHARS])


def default_components(report: ErrorReport) -> list[str]:
    components = [report.exc_type or "<no type>"]
    if report.syntax_file:
        components.append(module_from_path(report.syntax_file) or report.syntax_file)
    else:
        components.extend(_frame_keys(report))
    components.append(_message_key(report))
    return components


def fingerprint_components(report: ErrorReport, custom: list[str] | None = None) -> list[str]:
    """What the fingerprint is made of, for people debugging a grouping.

    `custom` (else the report's own custom_fingerprint) replaces the default; its variables are
    {{ default }}, {{ type }}, {{ message }}, {{ module }} and {{ function }} (of the crash frame).
    """
    custom = custom if custom is not None else report.custom_fingerprint
    items = [str(item) for item in custom or () if isinstance(item, str | int | float)]
    if not items:
        return default_components(report)
    crash = report.crash_frame
    variables = {
        "type": lambda: [report.exc_type or "<no type>"],
        "message": lambda: [_message_key(report)],
        "module": lambda: [(crash.module or crash.filename) if crash else ""],
        "function": lambda: [crash.function if crash else ""],
        "default": lambda: default_components(report),
    }
    components: list[str] = []
    for item in items:
        variable = _VARIABLE_RE.match(item.strip())
        name = variable.group(1).lower() if variable else ""
        components.extend(variables[name]() if name in variables else [item])
    return components


def fingerprint(report: ErrorReport, custom: list[str] | None = None) -> str:
    """A 32-character hex digest of the components: equal for occurrences of the same bug."""
    components = fingerprint_components(report, custom)
    encoded = json.dumps(components, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]
