"""Learned patterns on the real PostgreSQL: matching one failure against 100,000 stored patterns
(median ms, with the pg_trgm GIN index), and the time to fix a bug by its learned template against
the first-time strategy on the same bug (rules for a missing import, mutation search for a wrong
comparison), each measured in this run.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/bench_patterns.py [--patterns 100000]

Runs on its own database (test_selfheal_bench_patterns, migrated here and dropped at the end).
"""

import argparse
import hashlib
import random
import statistics
import time

from _django import benchmark_database

CATEGORIES = (
    "import", "syntax", "indentation", "undefined_name", "attribute", "type", "value", "key",
    "index", "assertion", "file_not_found", "json_parse", "timeout", "recursion", "memory",
    "db_connection", "rate_limit", "network", "unknown",
)  # fmt: skip
MESSAGE_SHAPES = (
    "{a} object has no attribute <str>", "unsupported operand type(s) for {op}: <str> and <str>",
    "{a} {b} {c} <num> {d}", "invalid literal for {a}() with base <num>: <str>",
    "{a}() takes <num> positional arguments but <num> were given", "assert <num> {op} <num>",
    "could not convert {a} to {b}: <str>", "{a} {b} is not {c}", "list index out of range in {a}",
    "connection to {a} refused on {b}", "{a} exceeded while calling {b} {c}",
)  # fmt: skip
CODE_SHAPES = [f"Return(Call(Attribute(N) {'N ' * k}))" for k in range(25)] + [
    f"Assign(N Compare(N {op} C))" for op in ("Gt", "Lt", "GtE", "LtE", "Eq", "NotEq")
]
COMMON = "name <str> is not defined"
NEAR_DUPLICATES = 1000  # patterns sharing COMMON in undefined_name, with other code shapes
RUNS = 30


def words(rng: random.Random, count: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(count)]


def populate(total: int, rng: random.Random) -> float:
    from patterns.models import FixTemplate, Pattern, PatternStatus

    vocabulary = words(rng, 3000)
    template_spec = {"v": 1, "kind": "insert_import", "import": "import __msg0",
                     "requires": {"__msg0": ["stdlib_module"]}}  # fmt: skip
    started = time.perf_counter()
    batch = []
    for n in range(total):
        if n < NEAR_DUPLICATES:
            category, message = "undefined_name", COMMON
            shape = f"Expr(Call(N {'N ' * (n % 40)}C)) #{n}"
        else:
            category = rng.choice(CATEGORIES)
            pick = dict(zip("abcd", rng.sample(vocabulary, 4), strict=True))
            message = rng.choice(MESSAGE_SHAPES).format(op=rng.choice("+-*/<>"), **pick)
            shape = rng.choice(CODE_SHAPES)
        successes, failures = rng.randint(0, 40), rng.randint(0, 10)
        batch.append(
            Pattern(
                signature=hashlib.sha256(f"{n}".encode()).hexdigest(),
                category=category,
                normalised_message=message,
                code_shape=shape,
                status=PatternStatus.ACTIVE if rng.random() < 0.7 else PatternStatus.CANDIDATE,
                successes=successes,
                failures=failures,
                confidence=(successes + 1) / (successes + failures + 2),
            )
        )
        if len(batch) == 5000:
            Pattern.objects.bulk_create(batch)
            batch = []
    Pattern.objects.bulk_create(batch)
    # The near-duplicates carry a real template, so the template fixer has work to do.
    FixTemplate.objects.bulk_create(
        FixTemplate(
            pattern=p,
            key=f"k{p.pk}",
            spec=template_spec,
            source="rules",
            variant="A",
            description="add `import __msg0`",
        )  # fmt: skip
        for p in Pattern.objects.filter(normalised_message=COMMON, templates__isnull=True)
    )
    return time.perf_counter() - started


def median_ms(fn, runs: int = RUNS) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def bench_matching(total: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patterns.models import Pattern
    from patterns.services import TemplateFixer, find_patterns
    from selfheal.engine.templates import Signature
    from selfheal.models import Project
    from tests.patterns.helpers import DATES, DATES_FAILURE, failing_context

    rng = random.Random(20261201)
    seconds = populate(total, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patterns_pattern")
    print(f"Stored {Pattern.objects.count():,} patterns in {seconds:.1f} s "
          f"({NEAR_DUPLICATES:,} share one message; 70% active)")  # fmt: skip

    existing = (
        Pattern.objects.exclude(normalised_message=COMMON)
        .filter(status="active")
        .order_by("?")
        .first()
    )
    cases = {
        "exact signature (a stored failure again)": Signature(
            existing.signature, existing.category, existing.normalised_message, existing.code_shape
        ),
        f"similar message, {NEAR_DUPLICATES:,} near-identical in the category": Signature(
            "0" * 64, "undefined_name", COMMON, "?"
        ),
        "similar message, rare": Signature(
            "1" * 64, existing.category, existing.normalised_message + " now", "?"
        ),
        "no pattern matches": Signature(
            "2" * 64, "network", "tls handshake timed out talking to <url>", "?"
        ),
    }
    print(f"\nMatching one failure against {total:,} patterns (median / p95 of {RUNS} runs):")
    for label, signature in cases.items():
        found = len(find_patterns(signature))
        median, p95 = median_ms(lambda s=signature: find_patterns(s))
        print(f"  {label:<55} {median:7.2f} ms  p95 {p95:7.2f} ms  ({found} matched)")

    project = Project.objects.create(name="Bench", slug="bench")
    context = failing_context(DATES, *DATES_FAILURE)
    fixer = TemplateFixer(project)
    median, p95 = median_ms(lambda: fixer.propose(context))
    print(f"  {'TemplateFixer.propose: match + apply the template':<55} {median:7.2f} ms  p95 {p95:7.2f} ms  "
          f"({len(fixer.propose(context))} candidate)")  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        find_patterns(cases["similar message, rare"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + queries.captured_queries[-1]["sql"])
        plan = [row[0].strip() for row in cursor.fetchall()]
    print("  plan of the similarity query: " + " / ".join(plan[:3]))
    print("  " + " / ".join(line for line in plan if line.startswith("Execution")))


def bench_template_vs_first_time() -> None:
    from patterns.services import TemplateFixer, learn_from_fix
    from selfheal.engine.fixers.base import Candidate
    from selfheal.engine.sandbox import run_tests_in_sandbox
    from selfheal.models import Project
    from tests.patterns.helpers import (
        CLOCK,
        CLOCK_FAILURE,
        CLOCK_FIXED,
        DATES,
        DATES_FAILURE,
        PATHS,
        PATHS_FAILURE,
        PATHS_FIXED,
        failing_context,
        fix,
        patched,
    )

    print("\nTime to fix the same bug: learned template vs the first-time strategy")
    learner = Project.objects.create(name="Learner", slug="learner")
    for files, failure, path, fixed in [(PATHS, PATHS_FAILURE, "paths.py", PATHS_FIXED),
                                        (CLOCK, CLOCK_FAILURE, "clock.py", CLOCK_FIXED)]:  # fmt: skip
        context = failing_context(files, *failure)
        learn_from_fix(learner, context, fix(context, path, fixed), "rules")
    newcomer = Project.objects.create(name="Newcomer", slug="newcomer")

    def validated(candidates: list[Candidate], files: dict[str, str]) -> bool:
        return any(
            run_tests_in_sandbox(patched(files, c), "python -m pytest -q").passed
            for c in candidates
        )

    try:
        from selfheal.engine.fixers.rules import RulesFixer
    except ImportError:
        RulesFixer = None
    context = failing_context(DATES, *DATES_FAILURE)
    template_ms, _ = median_ms(lambda: TemplateFixer(newcomer).propose(context), runs=20)
    if RulesFixer is None:
        print(
            f"  missing import: template {template_ms:.2f} ms to propose (no rules fixer to compare with)"
        )
    else:
        rules_ms, _ = median_ms(lambda: RulesFixer().propose(context), runs=20)
        print(f"  missing import, propose only: template {template_ms:.2f} ms, rules {rules_ms:.2f} ms "
              f"(template/rules = {template_ms / rules_ms:.2f})")  # fmt: skip
    sandbox_s = statistics.median(
        _timed(lambda: validated(TemplateFixer(newcomer).propose(context), DATES)) for _ in range(3)
    )
    print(f"  missing import, propose + prove in the sandbox: template {sandbox_s:.2f} s")

    # A wrong comparison: the first time only a mutation search finds it; then it is a template.
    people = {
        "people.py": "def is_adult(age):\n    return age > 18\n",
        "tests/test_people.py": "from people import is_adult\n\n\ndef test_adult():\n    assert is_adult(18)\n    assert not is_adult(17)\n",
    }  # fmt: skip
    stock = {
        "stock.py": "def is_full(items, capacity):\n    return len(items) > capacity\n",
        "tests/test_stock.py": "from stock import is_full\n\n\ndef test_full():\n    assert is_full([1, 2], 2)\n    assert not is_full([1], 2)\n",
    }  # fmt: skip
    try:
        from selfheal.engine.fixers.mutation import MutationFixer
    except ImportError:
        MutationFixer = None
    for files, path, fixed in [(people, "people.py", people["people.py"].replace(">", ">=")),
                               (stock, "stock.py", stock["stock.py"].replace(">", ">="))]:  # fmt: skip
        context = failing_context(
            files, "AssertionError", "assert False", (next(p for p in files if "test" in p), 5)
        )
        learn_from_fix(learner, context, fix(context, path, fixed, "mutation"), "mutation")
    target = {
        "limits.py": "def over_limit(count, limit):\n    return count > limit\n",
        "tests/test_limits.py": "from limits import over_limit\n\n\ndef test_at_limit():\n    assert over_limit(3, 3)\n    assert not over_limit(2, 3)\n",
    }  # fmt: skip
    context = failing_context(target, "AssertionError", "assert False", ("tests/test_limits.py", 5))
    template_s = statistics.median(
        _timed(lambda: validated(TemplateFixer(newcomer).propose(context), target))
        for _ in range(3)
    )
    line = f"  wrong comparison, propose + prove: template {template_s:.2f} s"
    if MutationFixer is not None:
        mutation_s = statistics.median(
            _timed(lambda: MutationFixer().propose(context)) for _ in range(3)
        )
        line += f", mutation search {mutation_s:.2f} s (mutation/template = {mutation_s / template_s:.1f}x)"
    else:
        line += " (no mutation fixer to compare with)"
    print(line)


def _timed(fn) -> float:
    started = time.perf_counter()
    assert fn(), "no fix that makes the tests pass"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patterns", type=int, default=100_000)
    args = parser.parse_args()
    with benchmark_database("selfheal_bench_patterns") as connection:
        if connection.vendor != "postgresql":
            raise SystemExit("bench_patterns needs PostgreSQL: set DATABASE_URL=postgres://...")
        import sys

        from _django import ROOT

        sys.path.insert(0, str(ROOT))  # tests.patterns.helpers: the same bugs as the tests
        bench_template_vs_first_time()
        bench_matching(args.patterns)


if __name__ == "__main__":
    main()
