"""The repair engine on HumanEvalFix (Python): 164 small functions, one injected bug each.

    .venv/bin/python benchmarks/bench_repair.py [--budget-seconds 6] [--limit N] [--only Python/3]

The data is read where it lives (`../shared/data/humanevalfix-python.jsonl` beside the checkout,
or $SELFHEAL_HUMANEVALFIX); it is never copied into the project. Each bug becomes a tiny project:
`solution.py` (declaration + buggy body) and `test_solution.py`, one test per assert of the
dataset's `check` function, so localisation gets one signal per assert. The engine never sees the
reference solution. After the search, the chosen patch is judged separately, in the sandbox:
*plausible* means the tests pass, *correct* means it also passes the reference's own `check` and
agrees with the reference on inputs perturbed from the tests' arguments.

Also measured in the same run: candidates validated per second by the zygote, against the naive
way (a whole sandboxed `python -m pytest` per candidate) on a few bugs.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import time
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from selfheal.engine.fixers.mutation.validate import SearchSettings  # noqa: E402
from selfheal.engine.repair import repair  # noqa: E402
from selfheal.engine.sandbox import (  # noqa: E402
    SandboxLimits,
    detect_isolation,
    run_in_sandbox,
    run_tests_in_sandbox,
)

DATA_ENV = "SELFHEAL_HUMANEVALFIX"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "humanevalfix-python.jsonl"
TEST_COMMAND = "python -m pytest -q"
NAIVE_COMMAND = "python -m pytest -q -x"  # the sandbox turns plugin autoload off


# --- building the programs -------------------------------------------------------------------


def load_rows(path: Path) -> list[dict]:
    if not path.exists():
        sys.exit(f"HumanEvalFix data not found at {path} (set ${DATA_ENV} to its path)")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _trivial(node: ast.Assert) -> bool:
    return isinstance(node.test, ast.Constant) and bool(node.test.value)


class _KeepOneAssert(ast.NodeTransformer):
    def __init__(self, keep: ast.Assert):
        self.keep = keep

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        return node if node is self.keep else ast.Pass()

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and len(block) > 1:
                kept = [n for n in block if not isinstance(n, ast.Pass)]
                setattr(node, name, kept or block[:1])
        return node


def build_tests(row: dict) -> str:
    """test_solution.py: the dataset's module-level test code without `check`, then one test
    function per (non-trivial) assert of `check`, each keeping check's other statements."""
    tree = ast.parse(row["test"])
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    others = [n for n in tree.body if n is not check]
    parameter = check.args.args[0].arg if check.args.args else "candidate"
    asserts = [n for n in ast.walk(check) if isinstance(n, ast.Assert) and not _trivial(n)]
    lines = ["import solution as _program", "from solution import *", ""]
    lines += [ast.unparse(n) for n in others if not _is_call_of_check(n)]
    for index, keep in enumerate(asserts or [None]):
        body = ast.parse(ast.unparse(check)).body[0]
        if keep is not None:
            target = [n for n in ast.walk(body) if isinstance(n, ast.Assert) and not _trivial(n)]
            body = _KeepOneAssert(target[index]).visit(body)
        else:
            body = _KeepOneAssert(None).visit(body)
        body.name = f"test_assert_{index}"
        body.args = ast.arguments(
            posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
        )
        bind = ast.parse(f"{parameter} = _program.{row['entry_point']}").body[0]
        body.body.insert(0, bind)
        lines += ["", ast.unparse(ast.fix_missing_locations(body))]
    return "\n".join(lines) + "\n"


def _is_call_of_check(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "check"
    )


def build_project(row: dict) -> dict[str, str]:
    return {
        "solution.py": row["declaration"] + row["buggy_solution"],
        "test_solution.py": build_tests(row),
    }


# --- judging a patch, after the search -------------------------------------------------------

JUDGE = r'''
import copy, importlib.util, json, math, os, random, signal, sys

class Timeout(Exception):
    pass

def alarm(signum, frame):
    raise Timeout()

def call(function, args):
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        return True, function(*copy.deepcopy(args))
    except BaseException as exc:
        return False, type(exc).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

def perturb(value, rng):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([value + 1, value - 1, value + rng.randint(2, 9), -value, rng.randint(-20, 120)])
    if isinstance(value, float):
        return rng.choice([value * rng.uniform(0.5, 1.5), value + 1.0, -value, rng.uniform(-10, 10)])
    if isinstance(value, str):
        chars = list(value)
        choice = rng.randrange(4)
        if choice == 0 and chars:
            rng.shuffle(chars)
        elif choice == 1 and chars:
            del chars[rng.randrange(len(chars))]
        elif choice == 2 and chars:
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(chars))
        else:
            chars.append(rng.choice("abcXYZ019 .,-_()[]<>"))
        return "".join(chars)
    if isinstance(value, (list, tuple)):
        items = list(value)
        choice = rng.randrange(4)
        if choice == 0:
            rng.shuffle(items)
        elif choice == 1 and items:
            del items[rng.randrange(len(items))]
        elif choice == 2 and items:
            index = rng.randrange(len(items))
            items[index] = perturb(items[index], rng)
        elif items:
            items.append(perturb(rng.choice(items), rng))
        return type(value)(items)
    return value

def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

def verdict(bug, directory, index):
    name = bug["entry_point"]
    reference = getattr(load(f"{directory}/reference.py", f"reference_{bug['key']}"), name)
    module = load(f"{directory}/patched_{index}.py", f"patched_{bug['key']}_{index}")
    function = getattr(module, name)
    namespace = dict(vars(module))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        exec(bug["test"], namespace)
        namespace["check"](function)
    except BaseException as exc:
        return {"correct": False, "reason": f"reference tests fail: {type(exc).__name__}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    rng = random.Random(bug["seed"])
    inputs = [tuple(a) for a in bug["inputs"]]
    for base in list(inputs):
        for _ in range(25):
            if not base:
                break
            args = list(base)
            position = rng.randrange(len(args))
            args[position] = perturb(args[position], rng)
            inputs.append(tuple(args))
    slow = 0
    for args in inputs:
        ok, expected = call(reference, args)
        if not ok:
            slow += expected == "Timeout"
            if slow >= 3:  # inputs too large for the reference: enough
                break
            continue
        ok, got = call(function, args)
        if not ok or not same(got, expected):
            return {"correct": False, "reason": f"differs from the reference on {args!r:.100}"}
    return {"correct": True, "reason": ""}

def judge_in_child(bug, directory, index):
    """A patch may crash or exit: only its own child goes down."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            result = verdict(bug, directory, index)
        except BaseException as exc:
            result = {"correct": False, "reason": f"judge error: {type(exc).__name__}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        return json.loads(data)
    except ValueError:
        return {"correct": False, "reason": "the patched program crashed the judge"}

def main():
    signal.signal(signal.SIGALRM, alarm)
    sys.setrecursionlimit(3000)
    verdicts = {}
    for bug in json.load(open("judge.json")):
        directory = f"bugs/{bug['key']}"
        verdicts[bug["key"]] = [judge_in_child(bug, directory, i) for i in range(bug["patches"])]
    json.dump(verdicts, open("verdicts.json", "w"))

main()
'''


def test_inputs(row: dict) -> list[list]:
    """Literal argument tuples of the calls the tests make to the function under test."""
    tree = ast.parse(row["test"])
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    parameter = check.args.args[0].arg if check.args.args else "candidate"
    inputs = []
    for node in ast.walk(check):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == parameter and not node.keywords:
                try:
                    inputs.append([ast.literal_eval(a) for a in node.args])
                except (ValueError, SyntaxError, TypeError):
                    continue
    return inputs


def judge_all(rows: dict[str, dict], patches: dict[str, list[str]]) -> dict[str, list[dict]]:
    """Judge every bug's plausible patches in one sandbox run (a forked child per patch)."""
    files = {"judge.py": JUDGE}
    bugs = []
    for key, (task_id, sources) in enumerate(patches.items()):
        if not sources:
            continue
        row = rows[task_id]
        files[f"bugs/{key}/reference.py"] = row["declaration"] + row["canonical_solution"]
        for index, source in enumerate(sources):
            files[f"bugs/{key}/patched_{index}.py"] = source
        test = "\n".join(
            ast.unparse(n) for n in ast.parse(row["test"]).body if not _is_call_of_check(n)
        )
        bugs.append(
            {
                "key": key,
                "task_id": task_id,
                "entry_point": row["entry_point"],
                "test": test,
                "inputs": test_inputs(row),
                "patches": len(sources),
                "seed": zlib.crc32(task_id.encode()),
            }
        )
    if not bugs:
        return {}
    files["judge.json"] = json.dumps(bugs, default=repr)
    limits = SandboxLimits(wall_seconds=900, cpu_seconds=900)
    result, collected = run_in_sandbox(
        files, ["python", "judge.py"], limits, False, ("verdicts.json",)
    )
    try:
        verdicts = json.loads(collected["verdicts.json"])
    except (KeyError, ValueError):
        sys.exit(f"the judge failed: {result.stderr.strip()[-500:]}")
    return {bug["task_id"]: verdicts[str(bug["key"])] for bug in bugs}


# --- the run -----------------------------------------------------------------------------------


def repair_one(row: dict, settings: SearchSettings, budget: float, max_candidates: int) -> dict:
    files = build_project(row)
    started = time.monotonic()
    result = repair(
        files,
        TEST_COMMAND,
        budget_seconds=budget,
        max_candidates=max_candidates,
        settings=SearchSettings(**vars(settings)),
    )
    seconds = time.monotonic() - started
    return {
        "task_id": row["task_id"],
        "bug_type": row["bug_type"],
        "status": result.status,
        "message": result.message,
        "operator": result.operator,
        "description": result.description,
        "plausible": result.status == "fixed",
        "patches": [p.content for p in result.plausible_patches[:10]],
        "plausible_operators": [p.operator for p in result.plausible_patches[:10]],
        "plausible_count": len(result.plausible_patches),
        "candidates": result.candidates_tried,
        "seconds": seconds,
        "first_plausible_seconds": result.first_plausible_seconds,
        "validation_seconds": result.validation_seconds,
        "isolation": result.isolation,
    }


def naive_rate(rows: list[dict], per_bug: int = 6) -> float:
    """Candidates per second the naive way: a whole sandboxed pytest run per candidate."""
    from selfheal.engine.fixers.mutation.search import MutationSearch

    count, seconds = 0, 0.0
    for row in rows:
        files = build_project(row)
        lines = len(files["solution.py"].splitlines())
        suspicious = {("solution.py", n): 1.0 for n in range(1, lines + 1)}
        singles = MutationSearch().singles(
            {"solution.py": files["solution.py"]}, suspicious, per_bug
        )
        for candidate in singles:
            started = time.monotonic()
            # Without the service's own pytest plugins, as the zygote runs: a fair comparison.
            run_tests_in_sandbox({**files, "solution.py": candidate.text}, NAIVE_COMMAND)
            seconds += time.monotonic() - started
            count += 1
    return count / seconds if seconds else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(outcomes: list[dict], wall: float, judging: float, naive: float | None) -> None:
    by_type: dict[str, list[dict]] = defaultdict(list)
    for outcome in outcomes:
        by_type[outcome["bug_type"]].append(outcome)
    header = (
        f"{'bug type':<17}{'bugs':>5}{'plaus.':>7}{'correct':>8}{'cand med/max':>14}"
        f"{'sec med/max':>13}{'1st plaus. med':>15}"
    )
    print(header)
    print("-" * len(header))
    for name in sorted(by_type) + ["TOTAL"]:
        group = outcomes if name == "TOTAL" else by_type[name]
        plausible = [o for o in group if o["plausible"]]
        correct = [o for o in plausible if o["correct"]]
        candidates = [o["candidates"] for o in group]
        seconds = [o["seconds"] for o in group]
        first = [o["first_plausible_seconds"] for o in plausible if o["first_plausible_seconds"]]
        if name == "TOTAL":
            print("-" * len(header))
        print(
            f"{name:<17}{len(group):>5}{len(plausible):>7}{len(correct):>8}"
            f"{median(candidates):>8.0f}/{max(candidates, default=0):<5}"
            f"{median(seconds):>7.2f}/{max(seconds, default=0):<5.1f}"
            f"{median(first):>15.2f}"
        )
    plausible = [o for o in outcomes if o["plausible"]]
    correct = [o for o in plausible if o["correct"]]
    tried = sum(o["candidates"] for o in outcomes)
    validating = sum(o["validation_seconds"] for o in outcomes)
    print()
    print(f"plausible {len(plausible)}/{len(outcomes)} (target >= 100 of 164)")
    share = len(correct) / len(plausible) if plausible else 0.0
    print(f"correct {len(correct)}/{len(plausible)} plausible = {share:.0%} (target >= 90%)")
    if any(len(o.get("verdicts", [])) > 1 for o in outcomes):
        print(f"some plausible patch correct: {sum(o['any_correct'] for o in outcomes)}")
    first = [o["first_plausible_seconds"] for o in plausible if o["first_plausible_seconds"]]
    print(
        f"time to first plausible (from the repair call): median {median(first):.2f} s "
        f"(target <= 2 s), max {max(first, default=0):.2f} s"
    )
    rate = tried / validating if validating else 0.0
    print(
        f"candidates validated: {tried} in {validating:.1f} s of validation = {rate:.1f}/s "
        f"(target >= 30/s); overall {tried / wall:.1f}/s of wall time"
    )
    if naive:
        print(
            f"naive sandboxed pytest per candidate: {naive:.1f}/s -> zygote is {rate / naive:.1f}x"
        )
    repair_seconds = sum(o["seconds"] for o in outcomes)
    print(
        f"whole run: {wall:.0f} s wall (target <= 600 s): repairs {repair_seconds:.0f} s, "
        f"judging {judging:.0f} s"
    )
    print(f"isolation: {', '.join(sorted({o['isolation'] for o in outcomes}))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(DATA_ENV, str(DEFAULT_DATA)))
    parser.add_argument("--budget-seconds", type=float, default=6.0)
    parser.add_argument("--max-candidates", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="zygote children at a time")
    parser.add_argument("--jobs", type=int, default=1, help="bugs repaired at a time")
    parser.add_argument("--limit", type=int, default=0, help="only the first N bugs")
    parser.add_argument("--only", default="", help="comma-separated task ids")
    parser.add_argument("--naive-bugs", type=int, default=3, help="bugs for the naive baseline")
    parser.add_argument("--json", default="", help="write every bug's outcome here")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--judge-all", action="store_true", help="judge every plausible patch, not only the best"
    )
    args = parser.parse_args()

    rows = load_rows(Path(args.data))
    if args.only:
        wanted = set(args.only.split(","))
        rows = [r for r in rows if r["task_id"] in wanted]
    if args.limit:
        rows = rows[: args.limit]
    print(
        f"HumanEvalFix: {len(rows)} bugs, budget {args.budget_seconds:g} s each, "
        f"isolation {detect_isolation().level}, {os.cpu_count()} CPUs"
    )
    # The naive baseline first, under the same load as the run that follows.
    naive = naive_rate(rows[: args.naive_bugs]) if args.naive_bugs else None
    settings = SearchSettings(workers=args.workers)
    started = time.monotonic()
    outcomes = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(repair_one, row, settings, args.budget_seconds, args.max_candidates)
            for row in rows
        ]
        for future in futures:
            outcome = future.result()
            outcomes.append(outcome)
            if not args.quiet:
                print(
                    f"{outcome['task_id']:<11} {outcome['bug_type']:<16} {outcome['status']:<10}"
                    f" {outcome['candidates']:>5} cand {outcome['seconds']:5.1f} s"
                    f"  {outcome['description'][:70]}",
                    flush=True,
                )
    repairs_done = time.monotonic()
    judged = {o["task_id"]: o["patches"][: 10 if args.judge_all else 1] for o in outcomes}
    verdicts = judge_all({r["task_id"]: r for r in rows}, judged)
    for outcome in outcomes:
        found = verdicts.get(outcome["task_id"], [])
        outcome["correct"] = bool(found and found[0]["correct"])
        outcome["any_correct"] = any(v["correct"] for v in found)
        outcome["verdicts"] = found
        outcome["judge_reason"] = found[0]["reason"] if found else ""
        if outcome["plausible"] and not outcome["correct"] and not args.quiet:
            print(f"{outcome['task_id']}: plausible, not correct: {outcome['judge_reason']}")
    wall = time.monotonic() - started
    judging = wall - (repairs_done - started)
    print()
    report(outcomes, wall, judging, naive)
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main()
