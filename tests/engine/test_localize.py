"""Fault localisation: Ochiai over per-assert segments, crash lines, and the zygote's tracer."""

import importlib.util
import math
import sys
import textwrap

import pytest

from selfheal.engine import localize
from selfheal.engine.fixers.mutation.validate import SearchSettings, run_search
from selfheal.engine.localize import Segment, Spectrum
from selfheal.engine.zygote.tracer import MAX_SEGMENTS, SegmentTracer, assert_starts


def spectrum(nodeid, *segments, outcome=None, crash=()):
    segs = [Segment(passed, frozenset(("m.py", n) for n in lines)) for passed, lines in segments]
    failed = any(not s.passed for s in segs)
    return Spectrum(
        nodeid,
        outcome or ("failed" if failed else "passed"),
        segments=segs,
        crash_lines=list(crash),
    )


def test_ochiai_scores_lines_run_only_by_failing_asserts_highest():
    spectra = [
        spectrum("t1", (True, [1, 2]), (False, [1, 3])),
        spectrum("t2", (True, [1, 2])),
        spectrum("t3", (False, [1, 3])),
    ]
    scores = localize.ochiai(spectra)
    assert scores[("m.py", 3)] == pytest.approx(1.0)  # 2 failing of 2, never passing
    assert scores[("m.py", 1)] == pytest.approx(2 / math.sqrt(2 * 4))
    assert ("m.py", 2) not in scores  # never run by a failing assert
    assert max(scores, key=scores.get) == ("m.py", 3)


def test_each_assert_of_a_test_counts_on_its_own():
    # One test: two passing asserts cover line 2, the failing third covers line 3.
    spectra = [spectrum("t", (True, [1, 2]), (True, [1, 2]), (False, [1, 3]))]
    scores = localize.ochiai(spectra)
    assert scores[("m.py", 3)] > scores[("m.py", 1)]


def test_crash_lines_weigh_in_and_scores_are_scaled_to_one():
    spectra = [
        spectrum("t1", (False, [1, 2, 3]), crash=[("m.py", 9), ("m.py", 2)]),
        spectrum("t2", (True, [1, 3])),
    ]
    scores = localize.suspiciousness(spectra)
    assert max(scores.values()) == pytest.approx(1.0)
    assert max(scores, key=scores.get) == ("m.py", 2)  # the innermost crash line
    assert scores[("m.py", 9)] > 0  # an outer frame, never covered, still counts a little
    assert localize.suspiciousness([spectrum("ok", (True, [1]))]) == {}


def test_spectra_from_zygote_records():
    records = [
        {"kind": "collected", "tests": ["a"]},
        {
            "kind": "test",
            "nodeid": "tests/test_m.py::test_a",
            "outcome": "failed",
            "duration": 0.01,
            "segments": [{"passed": False, "lines": {"m.py": [4]}}],
            "crash": [["m.py", 4]],
        },
    ]
    (only,) = localize.spectra_from_records(records)
    assert only.failed and only.crash_lines == [("m.py", 4)]
    assert only.segments == [Segment(False, frozenset({("m.py", 4)}))]


def test_traceback_lines_are_matched_to_project_paths():
    text = 'Traceback:\n  File "/sandbox/project/pkg/calc.py", line 7, in add\n  File "/usr/lib/x.py", line 1'
    assert localize.traceback_lines(text, ["pkg/calc.py", "other.py"]) == [("pkg/calc.py", 7)]


def test_segment_tracer_splits_a_test_at_its_asserts(tmp_path, monkeypatch):
    module = tmp_path / "shapes.py"
    module.write_text(
        textwrap.dedent(
            """\
            def area(w, h):
                if w < 0:
                    return 0
                return w * h
            """
        )
    )
    test = tmp_path / "test_shapes.py"
    test.write_text(
        textwrap.dedent(
            """\
            from shapes import area

            def test_area():
                assert area(2, 3) == 6
                assert area(-1, 3) == 0
                assert area(
                    1, 1
                ) == 2
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("test_shapes_traced", test)
    test_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_module)
    tracer = SegmentTracer({str(module): "shapes.py"}, {str(test): assert_starts(str(test))})
    tracer.start()
    try:
        test_module.test_area()
        passed = True
    except AssertionError:
        passed = False
    segments = tracer.stop(passed)
    sys.modules.pop("shapes", None)
    assert [s["passed"] for s in segments] == [True, True, False]
    assert segments[0]["lines"] == {"shapes.py": [2, 4]}
    assert segments[1]["lines"] == {"shapes.py": [2, 3]}
    assert segments[2]["lines"] == {"shapes.py": [2, 4]}


def test_a_loop_of_asserts_gives_a_bounded_number_of_segments(tmp_path, monkeypatch):
    (tmp_path / "square.py").write_text("def square(x):\n    return x * x\n")
    test = tmp_path / "test_square.py"
    test.write_text(
        "from square import square\n\n"
        "def test_many():\n    for i in range(500):\n        assert square(i) == i * i\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("test_square_traced", test)
    test_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_module)
    square = str(tmp_path / "square.py")
    tracer = SegmentTracer({square: "square.py"}, {str(test): assert_starts(str(test))})
    tracer.start()
    test_module.test_many()
    segments = tracer.stop(True)
    sys.modules.pop("square", None)
    assert len(segments) == MAX_SEGMENTS
    assert all(s["passed"] and s["lines"] == {"square.py": [2]} for s in segments)


CORPUS_OFF_BY_ONE = {
    "orders.py": textwrap.dedent(
        """\
        def average_order(orders):
            total = 0
            for i in range(1, len(orders)):
                total += orders[i]
            return total / len(orders)


        def largest_order(orders):
            return max(orders)
        """
    ),
    "tests/test_orders.py": textwrap.dedent(
        """\
        from orders import average_order, largest_order


        def test_average():
            assert average_order([5, 5]) == 5


        def test_largest():
            assert largest_order([3, 9, 2]) == 9
        """
    ),
}


def test_coverage_in_the_sandbox_ranks_the_buggy_function_first():
    """The zygote measures coverage inside the sandbox; the loop's lines outrank the rest."""
    run = run_search(
        CORPUS_OFF_BY_ONE,
        "python -m pytest -q",
        ["orders.py"],
        SearchSettings(budget_seconds=20, max_candidates=1),
    )
    assert run.failing == ["tests/test_orders.py::test_average"]
    assert run.sandbox.isolation in ("bwrap", "bwrap-noproc", "landlock")
    ranked = sorted(run.suspicious, key=run.suspicious.get, reverse=True)
    assert {line for _, line in ranked[:4]} == {2, 3, 4, 5}
    assert ("orders.py", 9) not in run.suspicious  # only run by the passing test
