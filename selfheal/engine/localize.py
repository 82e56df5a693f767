"""Spectrum-based fault localisation: which lines are most likely wrong, from what the tests ran.

The zygote (`engine/zygote.py`) runs every test once under a line tracer and splits it into one
segment per assert it executed, so a test with ten asserts gives ten signals. A line executed by
many failing segments and few passing ones is suspicious (Ochiai); the lines of a crash's own
traceback weigh in on top.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

Line = tuple[str, int]  # (relative path, 1-based line number)

# How much a crash's traceback adds to a line's Ochiai score: the innermost project frame most.
CRASH_WEIGHT = 0.5
CRASH_OUTER_WEIGHT = 0.2


@dataclass(frozen=True)
class Segment:
    passed: bool
    lines: frozenset[Line]


@dataclass
class Spectrum:
    nodeid: str
    outcome: str  # "passed" | "failed" | "skipped" | "timeout" | "crashed"
    duration: float = 0.0
    message: str = ""
    segments: list[Segment] = field(default_factory=list)
    crash_lines: list[Line] = field(default_factory=list)  # outermost first

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "timeout", "crashed")


def spectra_from_records(records: list[dict]) -> list[Spectrum]:
    """Turn the zygote's coverage records ({"kind": "test", ...}) into Spectrum objects."""
    spectra = []
    for record in records:
        if record.get("kind") != "test":
            continue
        segments = [
            Segment(bool(s.get("passed")), frozenset(segment_lines(s)))
            for s in record.get("segments", [])
        ]
        spectra.append(
            Spectrum(
                nodeid=str(record["nodeid"]),
                outcome=str(record.get("outcome", "failed")),
                duration=float(record.get("duration") or 0.0),
                message=str(record.get("message", "")),
                segments=segments,
                crash_lines=[(str(p), int(n)) for p, n in record.get("crash", [])],
            )
        )
    return spectra


def segment_lines(segment: dict) -> list[Line]:
    """The lines of a zygote segment record ({"lines": {path: [line, ...]}})."""
    lines = segment.get("lines") or {}
    return [(str(path), int(n)) for path, numbers in lines.items() for n in numbers]


def ochiai(spectra: list[Spectrum]) -> dict[Line, float]:
    """Ochiai suspiciousness ef / sqrt(total_failed * (ef + ep)) per line, over segments."""
    failed_counts: Counter[Line] = Counter()
    passed_counts: Counter[Line] = Counter()
    total_failed = 0
    for spectrum in spectra:
        for segment in spectrum.segments:
            if segment.passed:
                passed_counts.update(segment.lines)
            else:
                total_failed += 1
                failed_counts.update(segment.lines)
    scores = {}
    for line, ef in failed_counts.items():
        ep = passed_counts.get(line, 0)
        scores[line] = ef / math.sqrt(total_failed * (ef + ep))
    return scores


def suspiciousness(spectra: list[Spectrum]) -> dict[Line, float]:
    """Ochiai plus the crash tracebacks' lines, scaled so the most suspicious line scores 1."""
    scores = ochiai(spectra)
    for spectrum in spectra:
        if not spectrum.failed or not spectrum.crash_lines:
            continue
        *outer, innermost = spectrum.crash_lines
        scores[innermost] = scores.get(innermost, 0.0) + CRASH_WEIGHT
        for line in outer:
            scores[line] = scores.get(line, 0.0) + CRASH_OUTER_WEIGHT
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return {}
    return {line: score / top for line, score in scores.items() if score > 0}


TRACEBACK_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def traceback_lines(text: str, project_paths: list[str]) -> list[Line]:
    """Project lines named in Python tracebacks in `text` (for suites without coverage)."""
    found = []
    for match in TRACEBACK_LINE.finditer(text):
        reported = match.group(1).replace("\\", "/")
        for path in project_paths:
            if reported == path or reported.endswith("/" + path):
                found.append((path, int(match.group(2))))
    return found


def uniform(lines: list[Line], score: float = 0.5) -> dict[Line, float]:
    """The fallback when nothing was measured: every candidate line equally suspicious."""
    return {line: score for line in lines}
