"""CONTRACT (to be implemented): parse failures into one ErrorReport shape."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Frame:
    filename: str  # as the traceback shows it, relative to the project where possible
    lineno: int | None
    function: str
    module: str = ""  # dotted module name when known ("pkg.mod")
    context_line: str = ""
    pre_context: list[str] = field(default_factory=list)
    post_context: list[str] = field(default_factory=list)
    in_app: bool = True


@dataclass
class ErrorReport:
    exc_type: str  # "NameError", "AssertionError", "SyntaxError", ... ("" when unknown)
    message: str  # "name 'os' is not defined"
    frames: list[Frame] = field(default_factory=list)  # outermost first, innermost (crash) last
    test_name: str = ""  # the failing test's node id, when it comes from a test run
    source: str = "python"  # "python" | "pytest" | "junit" | "sentry" | "json"
    raw: str = ""  # the text it was parsed from
    # For SyntaxError / IndentationError: where the parser stopped.
    syntax_file: str = ""
    syntax_line: int | None = None
    syntax_offset: int | None = None
    syntax_text: str = ""

    @property
    def crash_frame(self) -> Frame | None:
        in_app = [f for f in self.frames if f.in_app]
        return (in_app or self.frames or [None])[-1]
