"""Mutation operators, the candidate search, the zygote's validation of hostile candidates in
the sandbox, and the revert strategy."""

import ast
import json
import textwrap
from pathlib import Path

import pytest

from selfheal.engine import zygote
from selfheal.engine.fixers.base import FixContext
from selfheal.engine.fixers.mutation import validate
from selfheal.engine.fixers.mutation.operators import DEFAULT_PRIORS, OPERATORS
from selfheal.engine.fixers.mutation.search import MutationSearch, best_first
from selfheal.engine.fixers.mutation.source import Source, apply_edits
from selfheal.engine.fixers.revert import RevertFixer
from selfheal.engine.sandbox import SandboxLimits, SandboxResult, run_in_sandbox
from selfheal.engine.tracebacks import ErrorReport, Frame

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "repair"


def mutants(code: str, operator: str, line: int | None = None) -> list[str]:
    code = textwrap.dedent(code)
    source = Source("m.py", code)
    found = []
    for node in ast.walk(source.tree):
        if line is not None and getattr(node, "lineno", None) != line:
            continue
        for mutation in OPERATORS[operator](source, node):
            found.append(apply_edits(code, mutation.edits))
    for text in found:
        ast.parse(text)  # every mutant is valid Python
    return found


def dedent(code: str) -> str:
    return textwrap.dedent(code)


def test_every_operator_has_a_docstring_and_a_prior():
    for name, operator in OPERATORS.items():
        assert operator.__doc__ and len(operator.__doc__) > 40, name
        assert 0 < DEFAULT_PRIORS[name] <= 1


def test_relational_replacement_keeps_the_rest_of_the_line():
    code = "def f(total, limit):\n    if total > limit:  # keep me\n        return 0\n"
    found = mutants(code, "relational")
    assert "def f(total, limit):\n    if total >= limit:  # keep me\n        return 0\n" in found
    assert any("total < limit" in m for m in found)
    assert any("x not in y" in m for m in mutants("ok = x in y\n", "relational"))


def test_relational_tries_the_negation_of_an_equality_first_and_spares_strings():
    assert mutants("ok = a == b\n", "relational")[0] == "ok = a != b\n"
    assert mutants("ok = a < b\n", "relational")[0] == "ok = a <= b\n"
    assert mutants("ok = b == '>'\n", "relational") == ["ok = b != '>'\n"]


def test_change_size_ignores_what_old_and_new_share():
    code = "for i in range(1, len(l)):\n    pass\n"
    (dropped,) = [c for c in MutationSearch().singles({"m.py": code}, {("m.py", 1): 1.0}, 500)
                  if "range(len(l))" in c.text]  # fmt: skip
    assert dropped.size == 3  # "1, " removed


@pytest.mark.parametrize(
    "operator, code, expected",
    [
        ("arithmetic", "def f(a, b):\n    return a - b\n", "return a + b"),
        ("arithmetic", "def f(x, b):\n    x -= b\n", "x //= b"),
        ("arithmetic", "def f(p, d):\n    p *= p * d\n", "p = p * d"),
        ("logical", "ok = a and b\n", "ok = a or b"),
        ("negation", "def f(ok):\n    if ok:\n        return 1\n", "if not ok:"),
        ("negation", "while not done:\n    pass\n", "while done:"),
        ("constant", "i = 0\n", "i = 1"),
        ("constant", "x = y[-1]\n", "x = y[-2]"),
        ("constant", "flag = True\n", "flag = False"),
        ("constant", "area = a * h / 0.5\n", "area = a * h / 2.0"),
        ("string", "s = ' '.join(words)\n", "s = ''.join(words)"),
        ("string", 'x = "db" + b + "d"\n', 'x = "db" + b + "db"'),
        ("bound", "for i in range(n):\n    pass\n", "range(n + 1)"),
        ("bound", "for i in range(1, n):\n    pass\n", "range(n)"),
        ("bound", "x = xs[len(xs) - i]\n", "xs[len(xs) - i - 1]"),
        ("bound", "x = xs[:n - 1]\n", "xs[:n]"),
        ("bound", "x = xs[i:]\n", "xs[i:-1]"),
        ("offset", "avg = total / (m - n)\n", "(m - n + 1)"),
        ("swap", "q = divide(b, a)\n", "divide(a, b)"),
        ("swap", "ok = x in s\n", "ok = s in x"),
        ("swap", "day, month = parts\n", "month, day = parts"),
        ("attribute", "t = s.lower()\n", "t = s.swapcase()"),
        ("attribute", "n = math.floor(x)\n", "n = math.ceil(x)"),
        ("builtin", "m = min(xs)\n", "m = max(xs)"),
        ("builtin", "ys = sorted(xs)\n", "ys = sorted(xs, reverse=True)"),
        ("wrap", "def f(a, b):\n    d = a - b\n", "d = abs(a - b)"),
        ("wrap", "same = s0 == s1\n", "same = set(s0) == set(s1)"),
        ("call", "t = text.replace(',', '.').replace('.', ',')\n", "t = text.replace(',', '.')\n"),
        ("call", "def f(string: str):\n    return len(set(string))\n", "set(string.lower())"),
        ("call", "def enc(s):\n    return s\n\ndef dec(s):\n    return enc(s)\n", "enc(enc(s))"),
        ("reduce", "r = x + y + y + x\n", "r = x + y + y\n"),
        ("reduce", "r = 18 * n * k\n", "r = 18 * k"),
        ("reduce", "ok = a and b and c\n", "ok = a and c"),
        ("reduce", "v = ['a', 'e', 'w']\n", "v = ['a', 'e']"),
        ("reduce", "ys = sorted(xs, key=len)\n", "ys = sorted(xs)"),
    ],
)
def test_operator_finds_the_fix(operator, code, expected):
    assert any(expected in mutant for mutant in mutants(code, operator))


def test_variable_replacement_respects_kinds():
    code = dedent(
        """\
        def f(a: int, b: int, names: list):
            total = a + b
            return b
        """
    )
    found = mutants(code, "variable", line=3)
    assert any(m.endswith("return a\n") for m in found)
    assert any(m.endswith("return total\n") for m in found)
    assert not any(m.endswith("return names\n") for m in found)  # a list for a number: no


def test_statement_deletion_and_guard_insertion():
    code = dedent(
        """\
        def fib(n):
            if n == 2:
                return 2
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
        """
    )
    deleted = mutants(code, "delete", line=2)
    assert (
        dedent(
            """\
        def fib(n):
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
        """
        )
        in deleted
    )
    lonely = mutants("def f(x):\n    x.pop()\n", "delete")
    assert lonely == ["def f(x):\n    pass\n"]
    guarded = mutants("def mean(xs):\n    return sum(xs) / len(xs)\n", "guard")
    assert "def mean(xs):\n    if not xs: return 0\n    return sum(xs) / len(xs)\n" in guarded


def test_condition_strengthening_uses_a_predicate_of_the_file():
    code = dedent(
        """\
        def is_prime(n):
            return n > 1 and all(n % k for k in range(2, n))

        def prime_length(s):
            length = len(s)
            if length > 0:
                return True
            return False
        """
    )
    assert any("if length > 0 and is_prime(length):" in m for m in mutants(code, "condition"))


def test_expressions_get_parentheses_only_where_needed():
    assert "y = (len(x) + 1) * 2\n" in mutants("y = len(x) * 2\n", "offset")
    found = mutants("z = c * (a - b)\n", "arithmetic")
    assert "z = c * (a + b)\n" in found  # the existing parentheses are kept, not doubled
    assert "for i in range(n + 1):\n    pass\n" in mutants(
        "for i in range(n):\n    pass\n", "bound"
    )


SUSPICIOUS_CODE = dedent(
    """\
    def score(a, b):
        x = a + b
        y = a - b
        return x * y
    """
)


def test_search_ranks_by_suspiciousness_and_prior_and_deduplicates():
    files = {"m.py": SUSPICIOUS_CODE}
    suspicious = {("m.py", 2): 0.2, ("m.py", 3): 1.0}
    singles = MutationSearch().singles(files, suspicious, 1000)
    assert singles[0].line == 3
    texts = [c.text for c in singles]
    assert len(texts) == len(set(texts)) and SUSPICIOUS_CODE not in texts
    assert [c.score for c in singles] == sorted((c.score for c in singles), reverse=True)
    assert all(c.line in (2, 3) for c in singles)
    assert len(MutationSearch().singles(files, suspicious, 5)) == 5


def test_priors_are_injectable():
    files = {"m.py": SUSPICIOUS_CODE}
    suspicious = {("m.py", 3): 1.0}
    default = MutationSearch().singles(files, suspicious, 1)[0]
    learned = MutationSearch(priors={"swap": 5.0}).singles(files, suspicious, 1)[0]
    assert default.operator != "swap" and learned.operator == "swap"


def test_search_is_deterministic_so_the_service_can_replay_it():
    files = {"m.py": SUSPICIOUS_CODE}
    suspicious = {("m.py", 2): 0.5, ("m.py", 3): 1.0, ("m.py", 4): 0.7}
    first = MutationSearch().singles(files, suspicious, 500)
    again = MutationSearch().singles(files, dict(reversed(suspicious.items())), 500)
    assert [(c.id, c.text) for c in first] == [(c.id, c.text) for c in again]


def test_combinations_pair_the_same_mistake_made_twice():
    code = dedent(
        """\
        def bounds(n):
            low = n < 1
            high = n < 10
            return low, high
        """
    )
    fixed = code.replace("n < 1", "n <= 1").replace("n < 10", "n <= 10")
    files = {"m.py": code}
    search = MutationSearch()
    singles = search.singles(files, {("m.py", 2): 1.0, ("m.py", 3): 1.0}, 1000)
    pairs = search.combinations(files, singles, {}, 500)
    assert any(p.text == fixed for p in pairs)
    assert all(len(p.mutations) == 2 for p in pairs)


def test_best_first_prefers_single_edits_vouched_for_by_the_tests():
    files = {"m.py": SUSPICIOUS_CODE}
    search = MutationSearch()
    singles = search.singles(files, {("m.py", 2): 0.5, ("m.py", 3): 1.0}, 1000)
    risky = next(c for c in singles if c.risky)  # deletes or weakens something
    safe = [c for c in singles if not c.risky][:3]
    on_line_2 = next(c for c in singles if c.line == 2)
    pair = search.combinations(files, [singles[0], on_line_2], {}, 1)[0]
    by_likelihood = sorted(safe, key=lambda c: (-c.score, c.size, c.id))
    # No test ran the risky edit's line: it goes after the safe ones, pairs go last.
    assert best_first([risky, pair, *safe]) == [*by_likelihood, risky, pair]
    # A test ran it: the tests vouch for the change, it is ranked like any other.
    covered = {("m.py", risky.line)}
    ordered = best_first([risky, pair, *safe], covered)
    assert ordered == sorted([risky, *safe], key=lambda c: (-c.score, c.size, c.id)) + [pair]


def test_every_candidate_for_the_corpus_parses():
    for path in sorted(CORPUS.glob("*/*.py")) + sorted(CORPUS.glob("*/*/*.py")):
        if "test" in path.name:
            continue
        text = path.read_text()
        lines = range(1, len(text.splitlines()) + 1)
        singles = MutationSearch().singles({"f.py": text}, {("f.py", n): 1.0 for n in lines}, 5000)
        for candidate in singles:
            ast.parse(candidate.text)


def test_pytest_arguments_of_test_commands():
    assert validate.pytest_arguments("python -m pytest -q") == ["-q"]
    assert validate.pytest_arguments("pytest -x tests/unit --junitxml=out.xml -n 4") == [
        "tests/unit"
    ]
    assert validate.pytest_arguments("PYTHONPATH=src pytest") == []
    assert validate.pytest_arguments("make test") is None
    with pytest.raises(validate.BadTestCommand):
        validate.pytest_arguments("   ")


# --- hostile candidates, validated by the zygote inside the real sandbox -----------------------

CALC = "def add(a, b):\n    return a - b\n"
CALC_TESTS = dedent(
    """\
    from calc import add


    def test_add():
        assert add(2, 3) == 5


    def test_zero():
        assert add(0, 0) == 0
    """
)
HOSTILE = {
    1: "def add(a, b):\n    while True:\n        pass\n",
    2: "def add(a, b):\n    return len('x' * (a + b) * 10**10)\n",
    3: "import os\n\ndef add(a, b):\n    os._exit(0)\n",
    4: (
        "import socket\n\ndef add(a, b):\n"
        "    socket.create_connection(('127.0.0.1', 5432), timeout=1).close()\n"
        "    return a + b\n"
    ),
    5: "def add(a, b):\n    try:\n        while True:\n            pass\n    except BaseException:\n        while True:\n            pass\n",
    6: "import os\n\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
    7: "def add(a, b):\n    return a + b\n",
}


def test_hostile_candidates_are_contained_and_the_search_goes_on():
    settings = validate.SearchSettings(budget_seconds=30, workers=2, test_timeout=1.0)
    job = validate.job_for("python -m pytest -q", ["calc.py"], settings)
    job.update(
        mode="validate",
        candidates=[{"id": key, "files": {"calc.py": text}} for key, text in HOSTILE.items()],
        failing_tests=["tests/test_calc.py::test_add"],
        stop={"extra_seconds": 30, "max_plausible": 10},
        candidate_timeout=3.0,
        workers=1,  # in order: the fork bomb's processes must be gone before the last one
    )
    files = {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS}
    result, collected = run_in_sandbox(
        validate.sandbox_files(files, job),
        ["python", zygote.LAUNCHER_FILE],
        SandboxLimits(wall_seconds=60),
        False,
        (zygote.RESULTS_FILE,),
    )
    records = validate.parse_records(collected[zygote.RESULTS_FILE])
    outcomes = {r["id"]: r for r in records if r["kind"] == "candidate"}
    assert set(outcomes) == set(HOSTILE), result.stderr
    assert outcomes[7]["status"] == "plausible"  # the good one, validated after all the others
    for key in (1, 2, 3, 4, 5, 6):
        assert outcomes[key]["status"] != "plausible", outcomes[key]
    assert outcomes[1]["status"] in ("failed", "timeout")  # the alarm, or the parent's kill
    assert outcomes[5]["status"] == "timeout"  # swallows the alarm: killed by the parent
    assert outcomes[3]["status"] == "crashed"
    assert "ConnectionRefused" in outcomes[4]["message"] or "OSError" in outcomes[4]["message"]
    assert outcomes[7]["digest"] == zygote.text_digest(HOSTILE[7])
    assert result.isolation != "unsafe-rlimits" and not result.timed_out


def test_records_that_do_not_match_the_regenerated_code_are_rejected():
    files = {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS}
    settings = validate.SearchSettings(max_candidates=50)
    singles = MutationSearch().singles({"calc.py": CALC}, {("calc.py", 2): 1.0}, 50)
    honest = {"kind": "candidate", "id": singles[0].id, "status": "plausible",
              "digest": zygote.text_digest(singles[0].text)}  # fmt: skip
    forged = {"kind": "candidate", "id": singles[1].id, "status": "plausible",
              "digest": zygote.text_digest("import os\nos.system('evil')\n")}  # fmt: skip
    records = [
        {"kind": "collected", "tests": ["t"]},
        {"kind": "baseline", "failing": ["t"]},
        {"kind": "suspicious", "lines": [["calc.py", 2, 1.0]]},
        {"kind": "phase", "name": "singles", "count": len(singles)},
        honest,
        forged,
    ]
    run = validate.SearchRun(sandbox=SandboxResult(0, False, "", "", 0.1, "bwrap"), records=records)
    validate.read_records(run, files, ["calc.py"], settings)
    assert [r.candidate.id for r in run.plausible] == [singles[0].id]
    assert run.rejected == 1


# --- the revert strategy ---------------------------------------------------------------------

PASSING = dedent(
    """\
    def area(w, h):
        return w * h


    def perimeter(w, h):
        return 2 * (w + h)
    """
)
BROKEN = dedent(
    """\
    def area(w, h):
        return w + h


    def perimeter(w, h):
        return 2 * (w + h) + 0
    """
)


def revert_context(files, passing_versions, reports=()):
    return FixContext(
        files=files,
        changed_paths=list(files),
        test_command="python -m pytest -q",
        test_result=SandboxResult(1, False, "", "", 0.1, "bwrap"),
        reports=list(reports),
        classifications=[],
        passing_versions=passing_versions,
    )


def test_revert_restores_the_failing_function_first_then_the_file():
    report = ErrorReport(
        "AssertionError", "assert 5 == 6", frames=[Frame("geometry.py", 2, "area")]
    )
    context = revert_context({"geometry.py": BROKEN}, {"geometry.py": [PASSING]}, [report])
    candidates = RevertFixer().propose(context)
    # Restoring both functions is the whole file: offered once, not twice.
    assert [c.rule for c in candidates] == [
        "revert-function",
        "revert-function",
        "revert-functions",
    ]
    first = candidates[0].patch.edits[0]
    assert "return w * h" in first.content and "2 * (w + h) + 0" in first.content
    assert first.base_content == BROKEN
    assert "return w + h" in candidates[1].patch.edits[0].content
    assert candidates[-1].patch.edits[0].content == PASSING
    assert all(c.strategy == "revert" and not c.validated for c in candidates)
    assert candidates[0].confidence > candidates[-1].confidence


def test_revert_has_nothing_to_offer_without_an_earlier_passing_version():
    assert RevertFixer().propose(revert_context({"geometry.py": BROKEN}, {})) == []
    same = revert_context({"geometry.py": PASSING}, {"geometry.py": [PASSING]})
    assert RevertFixer().propose(same) == []


def test_revert_of_a_file_that_no_longer_parses_restores_the_whole_file():
    context = revert_context({"geometry.py": "def area(w, h)\n"}, {"geometry.py": [PASSING]})
    (only,) = RevertFixer().propose(context)
    assert only.rule == "revert-file" and only.patch.edits[0].content == PASSING


def test_results_file_is_json_lines():
    text = json.dumps({"kind": "end"}) + "\nnot json\n" + json.dumps([1]) + "\n"
    assert validate.parse_records(text.encode()) == [{"kind": "end"}]
