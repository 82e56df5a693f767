"""Templates drawn from one fix reproduce it, and fix the same kind of bug in other code."""

import ast

import pytest

from selfheal.engine.classify import Classification
from selfheal.engine.patch import FileEdit
from selfheal.engine.templates import (
    ExtractionFailed,
    TemplateDoesNotApply,
    TemplateError,
    apply_template,
    extract_template,
    failure_from,
    signature_of,
    template_from_spec,
)
from selfheal.engine.tracebacks import ErrorReport, Frame

CATEGORY = {
    "NameError": "undefined_name",
    "AttributeError": "attribute",
    "AssertionError": "assertion",
}


def failure(files, exc_type, message, *frames):
    report = ErrorReport(
        exc_type, message, frames=[Frame(f"/sandbox/run/{p}", line, "f") for p, line in frames]
    )
    return failure_from(report, Classification(CATEGORY[exc_type], "medium", ""), files)


def learn(files, path, fixed, fail):
    return extract_template(
        files, [FileEdit(path, "modify", fixed, base_content=files[path])], fail
    )


def same_code(a, b):
    return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))


# --- the five kinds of fix ------------------------------------------------------------------------

PATHS = {
    "paths.py": "def here():\n    return os.getcwd()\n",
    "tests/test_paths.py": "from paths import here\n\n\ndef test_here():\n    assert here()\n",
}
PATHS_FIXED = "import os\n\n\ndef here():\n    return os.getcwd()\n"
PATHS_FAIL = ("NameError", "name 'os' is not defined", ("tests/test_paths.py", 5), ("paths.py", 2))

CLOCK = {
    "clock.py": '"""Clock."""\nimport sys\n\n\ndef stamp():\n    return time.time(), sys.argv\n'
}
CLOCK_FAIL = ("NameError", "name 'time' is not defined", ("clock.py", 6))


def test_missing_stdlib_import_reproduces_and_transfers():
    fail = failure(PATHS, *PATHS_FAIL)
    template = learn(PATHS, "paths.py", PATHS_FIXED, fail)
    assert template.spec["kind"] == "insert_import"
    assert template.spec["requires"] == {"__msg0": ["stdlib_module"]}
    (again,) = apply_template(template, PATHS, fail)
    assert same_code(again.content, PATHS_FIXED)

    (other,) = apply_template(template, CLOCK, failure(CLOCK, *CLOCK_FAIL))
    assert other.path == "clock.py"
    assert (
        other.content
        == '"""Clock."""\nimport sys\nimport time\n\n\ndef stamp():\n    return time.time(), sys.argv\n'
    )


def test_import_template_refuses_a_name_that_is_not_a_stdlib_module():
    template = learn(PATHS, "paths.py", PATHS_FIXED, failure(PATHS, *PATHS_FAIL))
    files = {"m.py": "def f():\n    return np.zeros(3)\n"}
    with pytest.raises(TemplateDoesNotApply, match="not a standard-library module"):
        apply_template(
            template, files, failure(files, "NameError", "name 'np' is not defined", ("m.py", 2))
        )


TOTALS = {
    "totals.py": "def total(prices):\n    subtotal = 0\n    for p in prices:\n        subtotal += p\n    return subtotl\n"
}
WORDS = {
    "words.py": "def count_words(text):\n    words = text.split()\n    vowels = 'aeiou'\n    return len(wrds) + len(vowels) * 0\n"
}


def test_misspelt_name_rename_reproduces_and_transfers():
    fail = failure(TOTALS, "NameError", "name 'subtotl' is not defined", ("totals.py", 5))
    template = learn(
        TOTALS, "totals.py", TOTALS["totals.py"].replace("return subtotl", "return subtotal"), fail
    )
    assert template.spec["derive"] == {"__new0": ["closest_name", "__msg0"]}
    (again,) = apply_template(template, TOTALS, fail)
    assert again.content.endswith("    return subtotal\n")

    other_fail = failure(
        WORDS, "NameError", "name 'wrds' is not defined. Did you mean: 'words'?", ("words.py", 4)
    )
    (other,) = apply_template(template, WORDS, other_fail)
    assert "return len(words) + len(vowels) * 0\n" in other.content


def test_a_rename_with_nothing_close_does_not_apply():
    template = learn(TOTALS, "totals.py", TOTALS["totals.py"].replace("return subtotl", "return subtotal"),
                     failure(TOTALS, "NameError", "name 'subtotl' is not defined", ("totals.py", 5)))  # fmt: skip
    files = {"z.py": "def f():\n    return qqqqq\n"}
    with pytest.raises(TemplateDoesNotApply, match="no defined name close to 'qqqqq'"):
        apply_template(
            template, files, failure(files, "NameError", "name 'qqqqq' is not defined", ("z.py", 2))
        )


PEOPLE = {
    "people.py": "def is_adult(age):\n    return age > 18\n",
    "tests/test_people.py": "from people import is_adult\n\n\ndef test_adult():\n    assert is_adult(18)\n",
}
STOCK = {
    "stock.py": (
        "def has_items(items):\n    return len(items) > 0\n\n\n"
        "def is_full(items, capacity):\n    return len(items) > capacity\n"
    ),
    "tests/test_stock.py": "from stock import is_full\n\n\ndef test_full():\n    assert is_full([1, 2], 2)\n",
}


def test_comparison_operator_change_reproduces_and_transfers_to_the_code_under_test():
    fail = failure(
        PEOPLE,
        "AssertionError",
        "assert False\n +  where False = is_adult(18)",
        ("tests/test_people.py", 5),
    )
    template = learn(PEOPLE, "people.py", "def is_adult(age):\n    return age >= 18\n", fail)
    assert (template.spec["before"], template.spec["after"]) == ("__e0 > __e1", "__e0 >= __e1")
    (again, *_) = apply_template(template, PEOPLE, fail)
    assert again.content == "def is_adult(age):\n    return age >= 18\n"

    other = apply_template(
        template,
        STOCK,
        failure(STOCK, "AssertionError", "assert False", ("tests/test_stock.py", 5)),
    )
    # The function the failing test calls comes first; the other comparison is a later candidate.
    assert "return len(items) >= capacity" in other[0].content
    assert "return len(items) > 0" in other[0].content
    assert "return len(items) >= 0" in other[1].content


NUMBERS = {"numbers.py": "def first_ten():\n    return list(range(1, 10))\n"}
DICE = {
    "dice.py": "SIDES = ('one', 'two')\n\n\ndef faces():\n    return [f for f in range(1, 6)]\n"
}


def test_off_by_one_constant_reproduces_and_transfers():
    fail = failure(NUMBERS, "AssertionError", "assert 9 == 10", ("numbers.py", 2))
    template = learn(
        NUMBERS, "numbers.py", "def first_ten():\n    return list(range(1, 11))\n", fail
    )
    assert template.spec["derive"] == {"__new0": ["add", "__lit1", 1]}
    assert template.spec["before"] == "range(__lit0, __lit1)"
    (again,) = apply_template(template, NUMBERS, fail)
    assert again.content.endswith("range(1, 11))\n")

    (other,) = apply_template(
        template, DICE, failure(DICE, "AssertionError", "assert 5 == 6", ("dice.py", 5))
    )
    assert "range(1, 7)" in other.content


USERS = {
    "users.py": "class User:\n    def __init__(self, name):\n        self.name = name\n\n    def hello(self):\n        return 'Hello, ' + self.nme\n"
}
ORDERS = {
    "orders.py": (
        "class Order:\n    def __init__(self, total):\n        self.total = total\n        self.items = []\n\n"
        "    def doubled(self):\n        return self.totl * 2\n\n    def tripled(self):\n        return self.totl * 3\n"
    )
}


def test_wrong_attribute_reproduces_and_transfers():
    fail = failure(USERS, "AttributeError", "'User' object has no attribute 'nme'", ("users.py", 6))
    template = learn(USERS, "users.py", USERS["users.py"].replace("self.nme", "self.name"), fail)
    assert template.spec["before"] == "__e0.__msg1"
    (again,) = apply_template(template, USERS, fail)
    assert again.content == USERS["users.py"].replace("self.nme", "self.name")

    other_fail = failure(
        ORDERS, "AttributeError", "'Order' object has no attribute 'totl'", ("orders.py", 7)
    )
    (other,) = apply_template(template, ORDERS, other_fail)
    assert other.content == ORDERS["orders.py"].replace("self.totl", "self.total")  # both places


def test_module_attribute_typo_uses_the_modules_own_names():
    files = {"m.py": "import os\n\n\ndef where():\n    return os.getcwdd()\n"}
    fail = failure(files, "AttributeError", "module 'os' has no attribute 'getcwdd'", ("m.py", 5))
    template = learn(USERS, "users.py", USERS["users.py"].replace("self.nme", "self.name"),
                     failure(USERS, "AttributeError", "'User' object has no attribute 'nme'", ("users.py", 6)))  # fmt: skip
    (fixed,) = apply_template(template, files, fail)
    assert "os.getcwd()" in fixed.content


def test_a_structural_edit_keeps_its_context():
    files = {"seq.py": "def last(xs):\n    return xs[len(xs)]\n"}
    fail = failure(files, "AssertionError", "assert 1 == 2", ("seq.py", 2))
    template = learn(files, "seq.py", "def last(xs):\n    return xs[len(xs) - 1]\n", fail)
    assert template.spec["before"] == "__id0[len(__id0)]"
    assert template.spec["after"] == "__id0[len(__id0) - 1]"
    other = {"q.py": "def top(stack):\n    value = stack[len(stack)]\n    return value\n"}
    (fixed,) = apply_template(template, other, failure(other, "AssertionError", "x", ("q.py", 2)))
    assert "value = stack[len(stack) - 1]" in fixed.content


def test_replacement_is_parenthesised_where_precedence_needs_it():
    spec = {
        "v": 1,
        "kind": "rewrite",
        "mode": "expr",
        "sites": "each",
        "before": "__e0 * __id0",
        "after": "__e0 * (__id0 - 1)",
    }
    files = {"m.py": "def f(a, n):\n    return 2 + a * n\n"}
    (fixed,) = apply_template(
        template_from_spec(spec), files, failure(files, "AssertionError", "x", ("m.py", 2))
    )
    assert "return 2 + a * (n - 1)" in fixed.content


# --- keys, bad input --------------------------------------------------------------------------------


def test_signature_keys_on_category_message_and_shape_not_on_names_or_lines():
    a = signature_of(failure(PATHS, *PATHS_FAIL))
    moved = {"p.py": "x = 1\n\n\ndef g():\n    return sys.getrecursionlimit()\n"}
    b = signature_of(failure(moved, "NameError", "name 'sys' is not defined", ("p.py", 5)))
    assert a.normalised_message == "name <str> is not defined"
    assert a.shape == "Return(Call(Attribute(N)))"
    assert a.key == b.key  # other names, another line: the same kind of failure
    other_shape = {"p.py": "def g(x):\n    return re.compile(x)\n"}
    c = signature_of(failure(other_shape, "NameError", "name 're' is not defined", ("p.py", 2)))
    assert c.normalised_message == a.normalised_message and c.key != a.key
    attribute = failure(
        USERS, "AttributeError", "'User' object has no attribute 'nme'", ("users.py", 6)
    )
    assert signature_of(attribute).category == "attribute"


def test_equal_fixes_give_equal_template_keys():
    one = learn(PATHS, "paths.py", PATHS_FIXED, failure(PATHS, *PATHS_FAIL))
    files = {"c.py": "def now():\n    return datetime.datetime.now()\n"}
    two = learn(files, "c.py", "import datetime\n\n\ndef now():\n    return datetime.datetime.now()\n",
                failure(files, "NameError", "name 'datetime' is not defined", ("c.py", 2)))  # fmt: skip
    assert one.key == two.key


def test_a_template_that_no_longer_applies_says_why():
    template = learn(PEOPLE, "people.py", "def is_adult(age):\n    return age >= 18\n",
                     failure(PEOPLE, "AssertionError", "assert False", ("tests/test_people.py", 5)))  # fmt: skip
    moved = {"people.py": "def is_adult(age):\n    return age >= 18\n"}
    with pytest.raises(TemplateDoesNotApply, match="occurs nowhere"):
        apply_template(
            template, moved, failure(moved, "AssertionError", "assert False", ("people.py", 2))
        )


@pytest.mark.parametrize(
    "spec",
    [
        None,
        {"v": 99, "kind": "rewrite"},
        {"v": 1, "kind": "teleport"},
        {"v": 1, "kind": "rewrite", "mode": "expr", "sites": "each", "before": "a +", "after": "a"},
        {
            "v": 1,
            "kind": "rewrite",
            "mode": "expr",
            "sites": "each",
            "before": "__e0",
            "after": "__e1",
        },
        {"v": 1, "kind": "rewrite", "mode": "expr", "sites": "often", "before": "a", "after": "b"},
        {
            "v": 1,
            "kind": "rewrite",
            "mode": "expr",
            "sites": "each",
            "before": "__lit0",
            "after": "__new0",
            "derive": {"__new0": ["add", "__lit0", "one"]},
        },
        {"v": 1, "kind": "insert_import", "import": "x = 1"},
        {"v": 1, "kind": "insert_import", "import": "import __id0"},
        {
            "v": 1,
            "kind": "insert_import",
            "import": "import __msg0",
            "requires": {"__msg0": ["magic"]},
        },
    ],
)
def test_malformed_specs_are_refused(spec):
    with pytest.raises(TemplateError):
        template_from_spec(spec)


def test_fixes_that_are_not_one_edit_are_not_learned():
    files = {"a.py": "x = 1\n", "b.py": "y = 2\n"}
    fail = failure(files, "AssertionError", "x", ("a.py", 1))
    edits = [FileEdit("a.py", "modify", "x = 2\n"), FileEdit("b.py", "modify", "y = 3\n")]
    with pytest.raises(ExtractionFailed, match="changes 2 files"):
        extract_template(files, edits, fail)
    broken = {"a.py": "def f(:\n    pass\n"}
    with pytest.raises(ExtractionFailed, match="does not parse before the fix"):
        learn(
            broken,
            "a.py",
            "def f():\n    pass\n",
            failure(broken, "AssertionError", "x", ("a.py", 1)),
        )
