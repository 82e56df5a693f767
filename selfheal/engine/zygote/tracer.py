"""Coverage: a line tracer that follows only project frames and splits tests at their asserts."""

import ast
import sys


def assert_starts(path):
    """{line: first line of the assert statement covering it} for a test file."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return {}
    starts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                starts[line] = node.lineno
    return starts


# A test with more asserts than this (a loop of them) keeps its last segment open to the end.
MAX_SEGMENTS = 50


class SegmentTracer:
    """Collects the project lines each assert of a test executes.

    A segment ends when a test frame moves past an assert (that assert passed); the segment open
    when the test ends has the test's outcome. A test without asserts is one segment. Lines are
    recorded as {relative path: [line, ...]}.
    """

    def __init__(self, project_paths, assert_lines):
        self.project_paths = project_paths  # {absolute path: relative path}
        self.assert_lines = assert_lines  # {absolute test path: {line: assert start}}
        self.segments, self.current, self.pending = [], set(), None

    def _global(self, frame, event, arg):
        path = frame.f_code.co_filename
        if path in self.project_paths:
            return self._project_line
        if path in self.assert_lines:
            return self._test_line
        return None

    def _project_line(self, frame, event, arg):
        if event == "line":
            self.current.add((frame.f_code.co_filename, frame.f_lineno))
        return self._project_line

    def _test_line(self, frame, event, arg):
        if event == "line":
            start = self.assert_lines[frame.f_code.co_filename].get(frame.f_lineno)
            if self.pending is not None and start != self.pending:
                if len(self.segments) < MAX_SEGMENTS - 1:
                    self._flush(True)
            self.pending = start
        return self._test_line

    def _flush(self, passed):
        lines = {}
        for path, number in self.current:
            lines.setdefault(self.project_paths[path], []).append(number)
        self.segments.append({"passed": passed, "lines": {p: sorted(n) for p, n in lines.items()}})
        self.current = set()

    def start(self):
        self.segments, self.current, self.pending = [], set(), None
        sys.settrace(self._global)

    def stop(self, passed):
        sys.settrace(None)
        if self.current or self.pending is not None or not self.segments:
            self._flush(passed)
        elif not passed:
            self.segments[-1]["passed"] = False
        return self.segments
