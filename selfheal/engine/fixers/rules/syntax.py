"""SyntaxError / IndentationError / TabError where the parser says exactly where.

Each repair is checked by compiling the result in-process (`compile` builds bytecode, it runs
nothing), and the parser's own error is used rather than the report's copy of it, so a file with
several such errors is repaired step by step.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from ...tracebacks import ErrorReport
from .code import Fix, ProjectCode
from .edits import line_indent

SYNTAX_ERROR_TYPES = ("SyntaxError", "IndentationError", "TabError")
MAX_STEPS = 5

INDENTATION_CONFIDENCE = 0.7
MISSING_COLON_CONFIDENCE = 0.85
UNCLOSED_BRACKET_CONFIDENCE = 0.7
MISMATCHED_BRACKET_CONFIDENCE = 0.7

CLOSERS = {"(": ")", "[": "]", "{": "}"}
NEVER_CLOSED = re.compile(r"'(?P<opener>[(\[{])' was never closed")
MISMATCHED = re.compile(
    r"closing parenthesis '(?P<closer>[)\]}])' does not match opening parenthesis '(?P<opener>[(\[{])'$"
)
EXPECTED_BLOCK = re.compile(r"expected an indented block after .* on line (?P<header>\d+)")
BLOCK_HEADERS = ("def ", "async def ", "class ", "@")


class Step:
    """One repair the parser pointed at: the new source, what was done, how sure the rule is."""

    def __init__(self, source: str, done: str, confidence: float, rule: str):
        self.source, self.done, self.confidence, self.rule = source, done, confidence, rule


def compile_error(source: str) -> SyntaxError | None:
    try:
        compile(source, "<fix>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return error
    except ValueError as error:  # null bytes
        return SyntaxError(str(error))
    return None


def improves(before: SyntaxError, source: str) -> bool:
    """The candidate compiles, or the parser now stops later in the file."""
    after = compile_error(source)
    if after is None:
        return True
    if after.msg == before.msg and after.lineno == before.lineno:
        return False
    return (after.lineno or 0) > (before.lineno or 0)


def syntax_error(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """Repair the file the parser refused: re-indent, add the missing `:` or closing bracket."""
    if report.exc_type not in SYNTAX_ERROR_TYPES:
        return []
    path = broken_file(report, project)
    if path is None:
        return []
    source = project.files[path]
    steps: list[Step] = []
    for _ in range(MAX_STEPS):
        error = compile_error(source)
        if error is None:
            break
        step = repair(source, error)
        if step is None:
            return []
        steps.append(step)
        source = step.source
    else:
        if compile_error(source) is not None:
            return []
    if not steps:
        return []
    return [
        Fix(
            path,
            source,
            f"{path}: " + "; ".join(step.done for step in steps) + ".",
            min(step.confidence for step in steps),
            steps[0].rule if len({s.rule for s in steps}) == 1 else "syntax_repair",
        )
    ]


def broken_file(report: ErrorReport, project: ProjectCode) -> str | None:
    """The reported file if it is in the project and does not compile; else the first project file
    that does not compile (files the traceback names first)."""
    named = [report.syntax_file] + [frame.filename for frame in reversed(report.frames)]
    paths = [project.locate(name) for name in named if name]
    paths += project.python_paths
    for path in paths:
        if path and path.endswith(".py") and compile_error(project.files[path]) is not None:
            return path
    return None


def repair(source: str, error: SyntaxError) -> Step | None:
    message = error.msg or ""
    handlers: list[Callable[[str, SyntaxError], Step | None]] = []
    if isinstance(error, TabError):
        handlers = [fix_tabs]
    elif message == "unexpected indent":
        handlers = [fix_unexpected_indent]
    elif EXPECTED_BLOCK.match(message) or message.startswith("expected an indented block"):
        handlers = [fix_expected_block]
    elif message.startswith("unindent does not match"):
        handlers = [fix_unindent]
    elif message == "expected ':'":
        handlers = [fix_missing_colon]
    elif NEVER_CLOSED.match(message):
        handlers = [fix_unclosed_bracket]
    elif MISMATCHED.match(message):
        handlers = [fix_mismatched_bracket]
    for handler in handlers:
        step = handler(source, error)
        if step is not None:
            return step
    return None


# Indentation


def indent_width(indent: str) -> int:
    return len(indent.expandtabs(8))


def indent_unit(lines: list[str]) -> str:
    """The file's indentation step: a tab, or the most common increase in spaces (default 4)."""
    if sum(1 for line in lines if line.startswith("\t")) > sum(
        1 for line in lines if line.startswith(" ")
    ):
        return "\t"
    widths = [indent_width(line_indent(line)) for line in lines if line.strip()]
    steps = Counter(b - a for a, b in zip(widths, widths[1:], strict=False) if b > a)
    return " " * (steps.most_common(1)[0][0] if steps else 4)


def is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def block_from(lines: list[str], first: int) -> int:
    """The last line (0-based) of the block that starts at `first`: following lines indented at
    least as deep (blank lines included, trailing blank lines not)."""
    width = indent_width(line_indent(lines[first]))
    last = first
    for number in range(first + 1, len(lines)):
        if not is_code(lines[number]):
            continue
        if indent_width(line_indent(lines[number])) < width:
            break
        last = number
    return last


def nested_end(lines: list[str], first: int) -> int:
    """The last line (0-based) of what is nested under line `first` (itself when nothing is)."""
    width = indent_width(line_indent(lines[first]))
    last = first
    for number in range(first + 1, len(lines)):
        if not is_code(lines[number]):
            continue
        if indent_width(line_indent(lines[number])) <= width:
            break
        last = number
    return last


def shift(lines: list[str], first: int, last: int, new_indent: str) -> list[str]:
    """Re-indent lines first..last so that `first` starts at `new_indent`, keeping the relative
    indentation of the others."""
    old = indent_width(line_indent(lines[first]))
    new = indent_width(new_indent)
    unit = "\t" if new_indent.startswith("\t") else " "
    shifted = list(lines)
    for number in range(first, last + 1):
        line = lines[number]
        if not line.strip():
            continue
        width = max(indent_width(line_indent(line)) - old + new, 0)
        body = line.lstrip(" \t")
        if unit == "\t":
            shifted[number] = "\t" * (width // 8) + " " * (width % 8) + body
        else:
            shifted[number] = " " * width + body
    return shifted


def previous_code_line(lines: list[str], number: int) -> int | None:
    for previous in range(number - 1, -1, -1):
        if is_code(lines[previous]):
            return previous
    return None


def outer_indents(lines: list[str], number: int) -> list[str]:
    """Indentations of the open blocks above line `number`, innermost first."""
    indents: list[str] = []
    limit: int | None = None
    for previous in range(number - 1, -1, -1):
        if not is_code(lines[previous]):
            continue
        indent = line_indent(lines[previous])
        width = indent_width(indent)
        if limit is None or width < limit:
            indents.append(indent)
            limit = width
        if width == 0:
            break
    if not indents or indent_width(indents[-1]) != 0:
        indents.append("")
    return indents


def try_reindent(
    source: str, error: SyntaxError, spans: list[tuple[int, int]], targets: list[str], done: str
) -> Step | None:
    lines = source.splitlines(keepends=True)
    tried = set()
    for first, last in spans:
        for target in targets:
            if (first, last, target) in tried:
                continue
            tried.add((first, last, target))
            candidate = "".join(shift(lines, first, last, target))
            if improves(error, candidate):
                count = last - first + 1
                what = f"line {first + 1}" if count == 1 else f"lines {first + 1}-{last + 1}"
                return Step(
                    candidate,
                    f"{done}: re-indented {what} to {indent_width(target)} columns",
                    INDENTATION_CONFIDENCE,
                    "indentation",
                )
    return None


def fix_unexpected_indent(source: str, error: SyntaxError) -> Step | None:
    """`unexpected indent`: bring the line (and the block under it) back to the level of the code
    above it, or to an enclosing level."""
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if not 0 <= number < len(lines):
        return None
    targets = outer_indents(lines, number)
    return try_reindent(
        source, error, [(number, block_from(lines, number)), (number, number)], targets,
        f"unexpected indent at line {number + 1}",
    )  # fmt: skip


def fix_unindent(source: str, error: SyntaxError) -> Step | None:
    """`unindent does not match any outer indentation level`: move the line (and its block) to the
    nearest indentation level that is open above it."""
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if not 0 <= number < len(lines):
        return None
    width = indent_width(line_indent(lines[number]))
    targets = sorted(
        outer_indents(lines, number),
        key=lambda indent: (abs(indent_width(indent) - width), indent_width(indent) > width),
    )
    return try_reindent(
        source, error, [(number, block_from(lines, number)), (number, number)], targets,
        f"indentation of line {number + 1} matched no outer level",
    )  # fmt: skip


def fix_expected_block(source: str, error: SyntaxError) -> Step | None:
    """`expected an indented block after 'if' statement on line 3`: indent the body one step
    deeper than its header. For a `def`/`class` the whole paragraph is the body; for a statement
    inside a function, only the line the parser stopped at (and what is nested under it)."""
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if not 0 <= number < len(lines):
        return None
    match = EXPECTED_BLOCK.match(error.msg or "")
    header = int(match.group("header")) - 1 if match else previous_code_line(lines, number)
    if header is None or not 0 <= header < len(lines):
        return None
    header_indent = line_indent(lines[header])
    target = header_indent + indent_unit(lines)
    paragraph_end = number
    for following in range(number + 1, len(lines)):
        line = lines[following]
        if not line.strip():
            break
        if indent_width(line_indent(line)) <= indent_width(
            header_indent
        ) and line.lstrip().startswith(BLOCK_HEADERS):
            break
        paragraph_end = following
    paragraph = (number, paragraph_end)
    first_line_only = (number, nested_end(lines, number))
    defines = lines[header].lstrip().startswith(BLOCK_HEADERS)
    spans = [paragraph, first_line_only] if defines else [first_line_only, paragraph]
    if indent_width(line_indent(lines[number])) > indent_width(header_indent):
        spans = [(number, number)]
    return try_reindent(
        source, error, spans, [target],
        f"line {header + 1} opens a block with no indented body",
    )  # fmt: skip


def fix_tabs(source: str, error: SyntaxError) -> Step | None:
    """TabError: indent with spaces only, reading a leading tab as one indentation step (or as the
    interpreter's 8 columns)."""
    lines = source.splitlines(keepends=True)
    space_lines = [line for line in lines if line.startswith(" ")]
    unit = indent_unit(space_lines) if space_lines else "    "
    for tab_width in dict.fromkeys((len(unit), 8)):
        converted = [
            line_indent(line).replace("\t", " " * tab_width) + line.lstrip(" \t")
            if line.strip()
            else line
            for line in lines
        ]
        candidate = "".join(converted)
        if improves(error, candidate):
            return Step(
                candidate,
                f"mixed tabs and spaces (line {error.lineno}): indented with spaces, "
                f"a tab read as {tab_width} columns",
                INDENTATION_CONFIDENCE,
                "indentation",
            )
    return None


# Colons and brackets


def code_end(line: str) -> int:
    """Where the code of a line ends: before a trailing comment and whitespace."""
    quote = ""
    index = 0
    end = len(line.rstrip("\r\n"))
    while index < end:
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif line.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char in "'\"":
            quote = line[index : index + 3] if line[index : index + 3] in ("'''", '"""') else char
            index += len(quote) - 1
        elif char == "#":
            end = index
            break
        index += 1
    return len(line[:end].rstrip())


def insert(lines: list[str], number: int, column: int, text: str) -> str:
    changed = list(lines)
    changed[number] = lines[number][:column] + text + lines[number][column:]
    return "".join(changed)


def fix_missing_colon(source: str, error: SyntaxError) -> Step | None:
    """`expected ':'`: add the colon where the parser expected it (else at the end of the line)."""
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if not 0 <= number < len(lines):
        return None
    columns = [code_end(lines[number])]
    if error.offset:
        columns.insert(0, min(error.offset - 1, len(lines[number].rstrip("\r\n"))))
    for column in dict.fromkeys(columns):
        candidate = insert(lines, number, column, ":")
        if improves(error, candidate):
            return Step(
                candidate,
                f"added the missing ':' at line {number + 1}",
                MISSING_COLON_CONFIDENCE,
                "missing_colon",
            )
    return None


def fix_unclosed_bracket(source: str, error: SyntaxError) -> Step | None:
    """`'(' was never closed`: close it at the end of its line, else at the end of the first
    following line after which the file compiles."""
    match = NEVER_CLOSED.match(error.msg or "")
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if match is None or not 0 <= number < len(lines):
        return None
    closer = CLOSERS[match.group("opener")]
    following = [n for n in range(number, min(number + 20, len(lines))) if is_code(lines[n])]
    candidates = [(n, insert(lines, n, code_end(lines[n]), closer)) for n in following]
    chosen = next(((n, c) for n, c in candidates if compile_error(c) is None), None)
    if chosen is None and candidates and improves(error, candidates[0][1]):
        chosen = candidates[0]
    if chosen is None:
        return None
    candidate_line, candidate = chosen
    return Step(
        candidate,
        f"closed the '{match.group('opener')}' opened at line {number + 1} "
        f"with '{closer}' at the end of line {candidate_line + 1}",
        UNCLOSED_BRACKET_CONFIDENCE,
        "unclosed_bracket",
    )


def fix_mismatched_bracket(source: str, error: SyntaxError) -> Step | None:
    """`closing parenthesis ']' does not match opening parenthesis '('`: use the right closer."""
    match = MISMATCHED.match(error.msg or "")
    lines = source.splitlines(keepends=True)
    number = (error.lineno or 0) - 1
    if match is None or not error.offset or not 0 <= number < len(lines):
        return None
    column = error.offset - 1
    if lines[number][column : column + 1] != match.group("closer"):
        return None
    closer = CLOSERS[match.group("opener")]
    changed = list(lines)
    changed[number] = lines[number][:column] + closer + lines[number][column + 1 :]
    candidate = "".join(changed)
    if not improves(error, candidate):
        return None
    return Step(
        candidate,
        f"replaced the '{match.group('closer')}' at line {number + 1} by '{closer}'",
        MISMATCHED_BRACKET_CONFIDENCE,
        "unclosed_bracket",
    )
