"""The rules fixer: each rule on the kind of broken code it is for, and on code it must leave alone."""

import ast
import os
import subprocess
import sys
import textwrap

import pytest

from selfheal.engine.classify import Classification, classify
from selfheal.engine.fixers.base import Candidate, FixContext
from selfheal.engine.fixers.rules import RulesFixer
from selfheal.engine.sandbox import SandboxResult
from selfheal.engine.tracebacks import ErrorReport, Frame, parse_pytest_output

SANDBOX = "/sandbox/project"


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def frame(path: str, line: int, function: str = "<module>") -> Frame:
    return Frame(filename=f"{SANDBOX}/{path}", lineno=line, function=function)


def error(exc_type: str, message: str, *frames: Frame, test: str = "tests/test_x.py::test_x"):
    return ErrorReport(exc_type=exc_type, message=message, frames=list(frames), test_name=test)


def syntax(exc_type: str, message: str, path: str, line: int) -> ErrorReport:
    return ErrorReport(
        exc_type=exc_type,
        message=message,
        syntax_file=f"{SANDBOX}/{path}",
        syntax_line=line,
        test_name=path,
    )


def propose(files: dict[str, str], *reports: ErrorReport, classifications=()) -> list[Candidate]:
    context = FixContext(
        files=files,
        changed_paths=sorted(files),
        test_command="python -m pytest -q",
        test_result=SandboxResult(1, False, "", "", 0.5, "bwrap"),
        reports=list(reports),
        classifications=list(classifications),
    )
    candidates = RulesFixer().propose(context)
    for candidate in candidates:
        assert candidate.strategy == "rules"
        assert 0 < candidate.confidence <= 1
        for edit in candidate.patch.edits:
            assert edit.action == "modify"
            assert edit.base_content == files[edit.path]
            compile(edit.content, edit.path, "exec")  # every proposed file compiles
    return candidates


def fixed(files: dict[str, str], candidate: Candidate) -> dict[str, str]:
    return {**files, **{edit.path: edit.content for edit in candidate.patch.edits}}


def run_module(source: str) -> dict:
    """Execute one of this test file's own snippets (never project code from outside)."""
    namespace: dict = {"__name__": "snippet"}
    exec(compile(source, "snippet.py", "exec"), namespace)
    return namespace


# Missing import of a stdlib module


STATS = code('''
    """Sales statistics."""


    def stdev(values):
        m = sum(values) / len(values)
        return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))
''')


def test_missing_stdlib_import_is_added_after_the_docstring():
    files = {"shop/__init__.py": "", "shop/stats.py": STATS}
    report = error(
        "NameError",
        "name 'math' is not defined",
        frame("tests/test_stats.py", 5, "test_stdev"),
        frame("shop/stats.py", 6, "stdev"),
    )
    best = propose(files, report)[0]
    assert best.rule == "missing_stdlib_import"
    content = fixed(files, best)["shop/stats.py"]
    assert content.startswith('"""Sales statistics."""\n\nimport math\n')
    assert run_module(content)["stdev"]([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == 2.0


def test_stdlib_import_goes_into_the_stdlib_group_after_future_imports():
    source = code("""
        from __future__ import annotations

        import os

        from shop.pricing import TAX_RATE


        def dump(data):
            return json.dumps({"cwd": os.sep, "tax": TAX_RATE, **data})
    """)
    files = {"report.py": source}
    best = propose(files, error("NameError", "name 'json' is not defined", frame("report.py", 9)))[
        0
    ]
    lines = fixed(files, best)["report.py"].splitlines()
    assert lines[:5] == [
        "from __future__ import annotations",
        "",
        "import os",
        "import json",
        "",
    ]
    assert lines[5] == "from shop.pricing import TAX_RATE"


def test_stdlib_import_goes_before_third_party_imports_when_there_is_no_stdlib_group():
    source = "from shop.pricing import TAX_RATE\n\n\ndef pause():\n    time.sleep(TAX_RATE)\n"
    files = {"wait.py": source}
    best = propose(files, error("NameError", "name 'time' is not defined", frame("wait.py", 5)))[0]
    assert fixed(files, best)["wait.py"].startswith(
        "import time\nfrom shop.pricing import TAX_RATE\n"
    )


def test_a_module_used_like_its_class_gets_a_from_import():
    source = "def stamp():\n    return datetime.now().isoformat()\n"
    files = {"clock.py": source}
    best = propose(
        files, error("NameError", "name 'datetime' is not defined", frame("clock.py", 2))
    )[0]
    assert fixed(files, best)["clock.py"].startswith("from datetime import datetime\n")
    assert run_module(fixed(files, best)["clock.py"])["stamp"]()[:2] == "20"


def test_a_well_known_stdlib_name_gets_its_from_import():
    source = "def home(name):\n    return Path(name).name\n"
    files = {"paths.py": source}
    best = propose(files, error("NameError", "name 'Path' is not defined", frame("paths.py", 2)))[0]
    assert fixed(files, best)["paths.py"].startswith("from pathlib import Path\n")


def test_a_name_that_is_no_stdlib_module_gets_no_stdlib_import():
    source = "def fetch(url):\n    return requests.get(url)\n"
    files = {"client.py": source}
    candidates = propose(
        files, error("NameError", "name 'requests' is not defined", frame("client.py", 2))
    )
    assert not any("import requests" in c.patch.edits[0].content for c in candidates)


def test_a_stdlib_name_used_as_a_plain_variable_is_not_imported():
    # `string` is a stdlib module, but here it is an undefined variable, not a module.
    files = {"shout.py": "def shout():\n    return string + '!'\n"}
    candidates = propose(
        files, error("NameError", "name 'string' is not defined", frame("shout.py", 2))
    )
    assert not any("import string" in c.patch.edits[0].content for c in candidates)


def test_stdlib_modules_that_act_on_import_are_never_imported():
    files = {"fun.py": "def fly():\n    return antigravity.geohash\n"}
    report = error("NameError", "name 'antigravity' is not defined", frame("fun.py", 2))
    assert propose(files, report) == []
    assert "antigravity" not in sys.modules  # importing it would open a web browser


# Missing import of a name the project defines


def test_missing_project_import_uses_the_package_path():
    files = {
        "shop/__init__.py": "",
        "shop/text/__init__.py": "",
        "shop/text/slugs.py": "import re\n\n\ndef slugify(text):\n    return re.sub('[^a-z]+', '-', text.lower())\n",
        "shop/pricing.py": '"""Prices."""\n\nTAX = 0.2\n\n\ndef code(name):\n    return slugify(name).upper()\n',
    }
    report = error(
        "NameError", "name 'slugify' is not defined", frame("shop/pricing.py", 7, "code")
    )
    best = propose(files, report)[0]
    assert best.rule == "missing_project_import"
    assert "from shop.text.slugs import slugify\n" in fixed(files, best)["shop/pricing.py"]
    assert "shop/text/slugs.py" in best.explanation


def test_missing_project_import_from_a_src_layout_and_a_plain_directory():
    files = {
        "src/shop/__init__.py": "",
        "src/shop/money.py": "def cents(value):\n    return round(value * 100)\n",
        "scripts/helpers.py": "LIMIT = 3\n",
        "scripts/run.py": "def main():\n    return cents(LIMIT)\n",
    }
    first = propose(
        files, error("NameError", "name 'cents' is not defined", frame("scripts/run.py", 2))
    )
    assert "from shop.money import cents\n" in first[0].patch.edits[0].content
    second = propose(
        files, error("NameError", "name 'LIMIT' is not defined", frame("scripts/run.py", 2))
    )
    # A module next to the importer in a plain directory is imported by its bare name.
    assert "from helpers import LIMIT\n" in second[0].patch.edits[0].content


def test_names_defined_only_in_tests_are_not_imported_into_code():
    files = {
        "tests/conftest.py": "def make_order():\n    return {}\n",
        "shop/orders.py": "def new():\n    return make_order()\n",
    }
    report = error("NameError", "name 'make_order' is not defined", frame("shop/orders.py", 2))
    assert not any(c.rule == "missing_project_import" for c in propose(files, report))


# Misspelt names


BULK = code("""
    def order_total(lines):
        return sum(quantity * price for _name, quantity, price in lines)


    def apply_discount(price, percent):
        return round(price * (100 - percent) / 100, 2)


    def bulk_total(lines, threshold=10):
        subtotal = order_total(lines)
        items = sum(quantity for _name, quantity, _price in lines)
        if items >= threshold:
            return apply_discount(subtotl, 10)
        return subtotal
""")


def test_misspelt_local_name_is_renamed_to_the_local_it_resembles():
    files = {"shop/pricing.py": BULK}
    report = error(
        "NameError",
        "name 'subtotl' is not defined",
        frame("tests/test_bulk.py", 5, "test_bulk_discount_applies"),
        frame("shop/pricing.py", 13, "bulk_total"),
    )
    best = propose(files, report)[0]
    assert best.rule == "misspelt_name"
    assert "`subtotal`" in best.explanation
    bulk_total = run_module(fixed(files, best)["shop/pricing.py"])["bulk_total"]
    assert bulk_total([("pen", 10, 1.0)]) == 9.0
    assert bulk_total([("pen", 2, 1.0)]) == 2.0


def test_misspelling_prefers_the_enclosing_function_over_module_names():
    source = code("""
        counter = 0


        def tally(items):
            count = 0
            for item in items:
                count += 1
            return coutn
    """)
    files = {"tally.py": source}
    best = propose(
        files, error("NameError", "name 'coutn' is not defined", frame("tally.py", 8, "tally"))
    )[0]
    assert fixed(files, best)["tally.py"].splitlines()[7] == "    return count"


def test_misspelt_builtin():
    files = {"order.py": "def order(items):\n    return sortd(items)\n"}
    best = propose(files, error("NameError", "name 'sortd' is not defined", frame("order.py", 2)))[
        0
    ]
    assert run_module(fixed(files, best)["order.py"])["order"]([3, 1, 2]) == [1, 2, 3]


def test_every_use_of_a_name_nothing_binds_is_renamed():
    source = "def area(radius):\n    return 3.14 * raduis * raduis\n"
    files = {"geometry.py": source}
    best = propose(
        files, error("NameError", "name 'raduis' is not defined", frame("geometry.py", 2))
    )[0]
    assert (
        fixed(files, best)["geometry.py"]
        == "def area(radius):\n    return 3.14 * radius * radius\n"
    )


def test_no_candidate_when_nothing_is_close_enough():
    files = {"x.py": "def f(value):\n    return zebra + value\n"}
    assert propose(files, error("NameError", "name 'zebra' is not defined", frame("x.py", 2))) == []


# Misspelt attributes


CALC = code("""
    class Base:
        def reset(self):
            self.total = 0


    class Calculator(Base):
        def __init__(self):
            self.memory = 0

        def add(self, a, b):
            return a + b


    def run():
        calc = Calculator()
        calc.rest()
        return calc.ad(1, 2) + calc.ad(3, 4) + calc.memroy
""")


@pytest.mark.parametrize(
    "line, message, expected",
    [
        (17, "'Calculator' object has no attribute 'ad'", "calc.add(1, 2) + calc.add(3, 4)"),
        (17, "'Calculator' object has no attribute 'memroy'", "calc.memory"),
        (16, "'Calculator' object has no attribute 'rest'", "calc.reset()"),
    ],
    ids=["method", "instance attribute", "inherited method"],
)
def test_misspelt_attribute_of_a_project_class(line, message, expected):
    files = {"calc.py": CALC}
    best = propose(files, error("AttributeError", message, frame("calc.py", line, "run")))[0]
    assert best.rule == "misspelt_attribute"
    assert expected in fixed(files, best)["calc.py"]


def test_misspelt_attribute_of_a_project_module_is_read_without_importing_it():
    files = {
        "shop/__init__.py": "",
        # Importing this module would stop the process: the rule must only parse it.
        "shop/textutils.py": 'raise SystemExit("imported!")\n\n\ndef slugify(text):\n    return text\n',
        "shop/report.py": "from shop import textutils\n\n\ndef name(top):\n    return textutils.slugfy(top)\n",
    }
    report = error(
        "AttributeError",
        "module 'shop.textutils' has no attribute 'slugfy'",
        frame("shop/report.py", 5, "name"),
    )
    best = propose(files, report)[0]
    assert "return textutils.slugify(top)" in fixed(files, best)["shop/report.py"]
    assert "shop.textutils" not in sys.modules


def test_misspelt_attribute_of_a_stdlib_module():
    files = {"roots.py": "import math\n\n\ndef root(x):\n    return math.sqr(x)\n"}
    report = error("AttributeError", "module 'math' has no attribute 'sqr'", frame("roots.py", 5))
    best = propose(files, report)[0]
    assert run_module(fixed(files, best)["roots.py"])["root"](9) == 3


def test_the_interpreters_did_you_mean_hint_wins():
    files = {"lists.py": "def grow(items):\n    items.apend(1)\n    return items\n"}
    report = error(
        "AttributeError",
        "'list' object has no attribute 'apend'. Did you mean: 'append'?",
        frame("lists.py", 2),
    )
    best = propose(files, report)[0]
    assert best.confidence >= 0.75
    assert run_module(fixed(files, best)["lists.py"])["grow"]([]) == [1]


def test_an_attribute_of_none_is_not_treated_as_a_typo():
    files = {"n.py": "def f(user):\n    return user.name\n"}
    report = error("AttributeError", "'NoneType' object has no attribute 'name'", frame("n.py", 2))
    assert propose(files, report) == []


# Wrong import paths


LABELS = code('''
    """Shelf labels."""

    from textutils import truncate


    def shelf_label(name, price):
        return f"{truncate(name, 12)} {price:.2f}"
''')


def test_a_module_imported_by_the_wrong_path_is_pointed_at_the_project_module():
    files = {
        "shop/__init__.py": "",
        "shop/textutils.py": "def truncate(text, length):\n    return text[:length]\n",
        "shop/labels.py": LABELS,
        "tests/test_labels.py": "from shop.labels import shelf_label\n",
    }
    report = error(
        "ModuleNotFoundError",
        "No module named 'textutils'",
        frame("tests/test_labels.py", 1),
        frame("shop/labels.py", 3),
        test="tests/test_labels.py",
    )
    best = propose(files, report)[0]
    assert best.rule == "wrong_module_path"
    assert (
        fixed(files, best)["shop/labels.py"].splitlines()[2]
        == "from shop.textutils import truncate"
    )


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("import utils", "from pkg import utils"),
        ("import utils as u  # helpers", "import pkg.utils as u  # helpers"),
        ("from utils import clean", "from pkg.utils import clean"),
    ],
)
def test_import_statement_forms_keep_the_names_they_bind(statement, expected):
    files = {
        "pkg/__init__.py": "",
        "pkg/utils.py": "def clean(text):\n    return text\n",
        "app.py": f"{statement}\n\nVALUE = 1\n",
    }
    report = error("ModuleNotFoundError", "No module named 'utils'", frame("app.py", 1))
    best = propose(files, report)[0]
    assert fixed(files, best)["app.py"].splitlines()[0] == expected


def test_a_misspelt_module_name_gets_the_closest_module():
    files = {"dump.py": "import jsn\n\n\ndef dump(data):\n    return jsn.dumps(data)\n"}
    report = error("ModuleNotFoundError", "No module named 'jsn'", frame("dump.py", 1))
    best = propose(files, report)[0]
    assert run_module(fixed(files, best)["dump.py"])["dump"]({"a": 1}) == '{"a": 1}'


def test_a_misspelt_project_module_in_a_package_gets_the_closest_module():
    files = {
        "shop/__init__.py": "",
        "shop/textutils.py": "def truncate(text, length):\n    return text[:length]\n",
        "tests/__init__.py": "",
        "tests/textutil.py": "X = 1\n",  # a test helper is no module for the code to import
        "shop/labels.py": "from shop.textutil import truncate\n",
    }
    report = error(
        "ModuleNotFoundError", "No module named 'shop.textutil'", frame("shop/labels.py", 1)
    )
    best = propose(files, report)[0]
    assert fixed(files, best)["shop/labels.py"] == "from shop.textutils import truncate\n"


def test_a_missing_third_party_package_gets_no_candidate():
    files = {"web.py": "import requests\n"}
    assert (
        propose(
            files, error("ModuleNotFoundError", "No module named 'requests'", frame("web.py", 1))
        )
        == []
    )


def test_a_name_imported_from_the_wrong_module_is_imported_from_where_it_is_defined():
    files = {
        "shop/__init__.py": "",
        "shop/money.py": "TAX = 0.2\n",
        "shop/textutils.py": "def slugify(text):\n    return text\n",
        "shop/report.py": "from shop.money import TAX, slugify\n\nNAME = slugify('x')\n",
    }
    report = error(
        "ImportError",
        f"cannot import name 'slugify' from 'shop.money' ({SANDBOX}/shop/money.py)",
        frame("shop/report.py", 1),
    )
    best = propose(files, report)[0]
    assert fixed(files, best)["shop/report.py"].splitlines()[:2] == [
        "from shop.money import TAX",
        "from shop.textutils import slugify",
    ]


def test_a_misspelt_imported_name_is_fixed_with_its_uses():
    files = {
        "shop/__init__.py": "",
        "shop/textutils.py": "def slugify(text):\n    return text\n",
        "shop/report.py": "from shop.textutils import slugfy\n\nNAME = slugfy('x')\n",
    }
    report = error(
        "ImportError",
        f"cannot import name 'slugfy' from 'shop.textutils' ({SANDBOX}/shop/textutils.py)",
        frame("shop/report.py", 1),
    )
    best = propose(files, report)[0]
    assert (
        fixed(files, best)["shop/report.py"]
        == "from shop.textutils import slugify\n\nNAME = slugify('x')\n"
    )


def test_a_circular_import_is_left_alone():
    files = {"a.py": "from b import thing\n", "b.py": "from a import other\nthing = 1\n"}
    report = error(
        "ImportError",
        "cannot import name 'thing' from partially initialized module 'b' (most likely due to a circular import)",
        frame("a.py", 1),
    )
    assert propose(files, report) == []


# Indentation, colons and brackets


@pytest.mark.parametrize(
    "exc_type, message, broken, repaired",
    [
        (
            "IndentationError",
            "unexpected indent",
            "def f(x):\n    y = x + 1\n        return y\n",
            "def f(x):\n    y = x + 1\n    return y\n",
        ),
        (
            "IndentationError",
            "expected an indented block after function definition on line 1",
            "def f(x):\ny = x + 1\nreturn y\n\n\ndef g():\n    return 2\n",
            "def f(x):\n    y = x + 1\n    return y\n\n\ndef g():\n    return 2\n",
        ),
        (
            "IndentationError",
            "expected an indented block after 'if' statement on line 2",
            "def f(x):\n    if x:\n    return 1\n    return 0\n",
            "def f(x):\n    if x:\n        return 1\n    return 0\n",
        ),
        (
            "IndentationError",
            "unindent does not match any outer indentation level",
            "def f(x):\n    if x:\n        y = 1\n      return y\n",
            "def f(x):\n    if x:\n        y = 1\n    return y\n",
        ),
        (
            "TabError",
            "inconsistent use of tabs and spaces in indentation",
            "def f(x):\n    if x:\n\treturn 1\n    return 0\n",
            "def f(x):\n    if x:\n        return 1\n    return 0\n",
        ),
        (
            "SyntaxError",
            "expected ':'",
            "def median(values)\n    ordered = sorted(values)\n    return ordered[len(ordered) // 2]\n",
            "def median(values):\n    ordered = sorted(values)\n    return ordered[len(ordered) // 2]\n",
        ),
        (
            "SyntaxError",
            "'(' was never closed",
            "def f(x):\n    y = round(x * 1.2, 2\n    return y  # done\n",
            "def f(x):\n    y = round(x * 1.2, 2)\n    return y  # done\n",
        ),
        (
            "SyntaxError",
            "'(' was never closed",
            "total = sum(\n    price,\n    tax,\nprint(total)\n",
            "total = sum(\n    price,\n    tax,)\nprint(total)\n",
        ),
        (
            "SyntaxError",
            "closing parenthesis ']' does not match opening parenthesis '('",
            "x = max(1, 2]\n",
            "x = max(1, 2)\n",
        ),
    ],
    ids=[
        "unexpected indent",
        "function body not indented",
        "if body not indented",
        "unindent matches no level",
        "tabs and spaces",
        "missing colon",
        "unclosed paren",
        "unclosed multi-line call",
        "mismatched bracket",
    ],
)
def test_syntax_repairs(exc_type, message, broken, repaired):
    files = {"shop/stats.py": broken}
    candidates = propose(files, syntax(exc_type, message, "shop/stats.py", 1))
    assert len(candidates) == 1
    assert fixed(files, candidates[0])["shop/stats.py"] == repaired


def test_several_syntax_errors_in_one_file_are_repaired_together():
    broken = "def f(x)\n    if x > 1\n        return x\n    return 0\n"
    files = {"m.py": broken}
    candidates = propose(files, syntax("SyntaxError", "expected ':'", "m.py", 1))
    assert (
        fixed(files, candidates[0])["m.py"]
        == "def f(x):\n    if x > 1:\n        return x\n    return 0\n"
    )
    assert "line 1" in candidates[0].explanation and "line 2" in candidates[0].explanation


def test_the_category_stands_in_for_a_missing_exception_type():
    files = {"m.py": "def f(x)\n    return x\n"}
    report = ErrorReport(exc_type="", message="invalid syntax", syntax_file="m.py", syntax_line=1)
    classification = Classification("syntax", "high", "m.py does not parse")
    best = propose(files, report, classifications=[classification])[0]
    assert best.root_cause == "m.py does not parse"
    assert fixed(files, best)["m.py"] == "def f(x):\n    return x\n"


def test_a_syntax_error_the_rules_do_not_know_gets_no_candidate():
    files = {"m.py": "x = = 1\n"}
    assert propose(files, syntax("SyntaxError", "invalid syntax", "m.py", 1)) == []


# Locating files, grouping and combining


def test_the_longest_matching_project_path_wins():
    files = {
        "calc.py": "def f():\n    return math.pi\n",
        "pkg/calc.py": "def g():\n    return math.e\n",
    }
    report = error("NameError", "name 'math' is not defined", frame("pkg/calc.py", 2))
    assert [edit.path for edit in propose(files, report)[0].patch.edits] == ["pkg/calc.py"]


def test_a_frame_outside_the_project_is_skipped():
    files = {"calc.py": "def f():\n    return math.pi\n"}
    report = error(
        "NameError",
        "name 'math' is not defined",
        frame("calc.py", 2),
        Frame(
            filename="/usr/lib/python3.11/functools.py", lineno=10, function="wrapper", in_app=False
        ),
    )
    assert propose(files, report)[0].patch.edits[0].path == "calc.py"


def test_tests_failing_on_the_same_error_share_one_candidate():
    files = {"calc.py": "def f():\n    return math.pi\n"}
    reports = [
        error(
            "NameError",
            "name 'math' is not defined",
            frame("calc.py", 2),
            test=f"tests/test_calc.py::test_{n}",
        )
        for n in range(3)
    ]
    candidates = propose(files, *reports)
    assert len(candidates) == 1
    assert candidates[0].metadata["tests"] == [f"tests/test_calc.py::test_{n}" for n in range(3)]


def test_different_errors_get_one_combined_candidate_first():
    files = {
        "shop/__init__.py": "",
        "shop/stats.py": STATS,
        "shop/pricing.py": BULK,
    }
    reports = [
        error("NameError", "name 'math' is not defined", frame("shop/stats.py", 6, "stdev")),
        error(
            "NameError", "name 'subtotl' is not defined", frame("shop/pricing.py", 13, "bulk_total")
        ),
    ]
    candidates = propose(files, *reports)
    combined = candidates[0]
    assert sorted(edit.path for edit in combined.patch.edits) == [
        "shop/pricing.py",
        "shop/stats.py",
    ]
    assert combined.metadata["rules"] == ["missing_stdlib_import", "misspelt_name"]
    best_single = {c.rule: c.confidence for c in reversed(candidates[1:])}
    assert combined.confidence == min(best_single.values())
    repaired = fixed(files, combined)
    assert run_module(repaired["shop/pricing.py"])["bulk_total"]([("pen", 10, 1.0)]) == 9.0
    assert run_module(repaired["shop/stats.py"])["stdev"]([3.0, 3.0]) == 0.0


def test_two_errors_in_one_file_are_combined_on_top_of_each_other():
    source = "def report(data):\n    return json.dumps(data) + tittle\n\ntitle = 'x'\n"
    files = {"r.py": source}
    reports = [
        error("NameError", "name 'json' is not defined", frame("r.py", 2)),
        error("NameError", "name 'tittle' is not defined", frame("r.py", 2)),
    ]
    combined = propose(files, *reports)[0]
    content = fixed(files, combined)["r.py"]
    assert (
        content
        == "import json\n\ndef report(data):\n    return json.dumps(data) + title\n\ntitle = 'x'\n"
    )
    ast.parse(content)


def test_an_error_without_a_project_frame_gets_nothing():
    files = {"calc.py": "x = 1\n"}
    report = error("NameError", "name 'math' is not defined", Frame("<stdin>", 1, "<module>"))
    assert propose(files, report) == []


# The demo proposals, from real pytest output


def run_pytest(files: dict[str, str], directory) -> tuple[int, str]:
    """Run pytest on our own demo code (trusted, so outside the sandbox) in a fresh directory."""
    for path, content in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(directory),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout


DEMO_BUGS = [
    ("Add standard deviation to sales statistics", ["missing_stdlib_import"]),
    ("Bulk discount for large orders", ["misspelt_name"]),
    ("Shelf labels", ["wrong_module_path"]),
    ("Median of sales", ["missing_colon"]),
    ("JSON sales report", ["missing_stdlib_import", "misspelt_attribute"]),
]


@pytest.mark.parametrize("title, rules", DEMO_BUGS, ids=[title for title, _ in DEMO_BUGS])
def test_the_rules_repair_the_demo_proposals(title, rules, tmp_path):
    from proposals.demo import PROJECT_DIR, demo_proposals

    files = {str(p.relative_to(PROJECT_DIR)): p.read_text() for p in PROJECT_DIR.rglob("*.py")}
    proposal = next(p for p in demo_proposals() if p["title"] == title)
    files.update({change["path"]: change["content"] for change in proposal["changes"]})
    used = []
    for attempt in range(len(rules) + 1):
        exit_code, output = run_pytest(files, tmp_path / f"attempt{attempt}")
        if exit_code == 0:
            break
        reports = parse_pytest_output(output, list(files))
        context = FixContext(
            files=files,
            changed_paths=[change["path"] for change in proposal["changes"]],
            test_command="python -m pytest -q",
            test_result=SandboxResult(exit_code, False, output, "", 0.1, "none"),
            reports=reports,
            classifications=[classify(report) for report in reports],
        )
        candidates = RulesFixer().propose(context)
        assert candidates, output
        used.append(candidates[0].rule)
        files = candidates[0].patch.apply(files)
    assert exit_code == 0, output
    assert used == rules
