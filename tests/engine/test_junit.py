import pytest

from selfheal.engine.junit import JUnitError, node_id, parse_junit

REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6">
<testcase classname="tests.test_calc" name="test_add" file="tests/test_calc.py" line="2" time="0.25"/>
<testcase classname="tests.test_calc.TestNeg" name="test_neg[2-3]" file="tests/test_calc.py" line="9"
  time="0.001"><failure message="assert -1 == 5&#10;where -1 = add(2, 3)">def test_neg(a, b):
&gt;       assert add(a, b) == 5
E       assert -1 == 5</failure></testcase>
<testcase classname="tests.test_calc" name="test_later" file="tests/test_calc.py" line="12" time="0">
  <skipped type="pytest.skip" message="not yet">tests/test_calc.py:13: not yet</skipped></testcase>
<testcase classname="tests.test_db" name="test_teardown" file="tests/test_db.py" line="0" time="0.1">
  <error message="failed on teardown with &quot;RuntimeError: boom&quot;">RuntimeError: boom</error>
</testcase>
<testcase classname="tests.test_db" name="test_both" file="tests/test_db.py" line="4" time="0.1">
  <failure message="assert False">assert False</failure><error message="teardown">x</error></testcase>
<testcase classname="" name="tests.test_broken" file="tests/test_broken.py" time="0.000">
  <error message="collection failure">E   ModuleNotFoundError: No module named 'nope'</error>
</testcase>
</testsuite></testsuites>"""


def test_report_becomes_one_result_per_test():
    results = {r.name: r for r in parse_junit(REPORT)}

    assert {name: r.outcome for name, r in results.items()} == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::TestNeg::test_neg[2-3]": "failed",
        "tests/test_calc.py::test_later": "skipped",
        "tests/test_db.py::test_teardown": "error",
        "tests/test_db.py::test_both": "failed",
        "tests/test_broken.py": "error",
    }
    failed = results["tests/test_calc.py::TestNeg::test_neg[2-3]"]
    assert failed.message == "assert -1 == 5"  # one line
    assert "E       assert -1 == 5" in failed.details
    assert (failed.file, failed.line, failed.duration) == ("tests/test_calc.py", 10, 0.001)
    assert results["tests/test_calc.py::test_add"].line == 3  # pytest counts lines from 0
    assert results["tests/test_calc.py::test_later"].message == "not yet"
    assert "ModuleNotFoundError" in results["tests/test_broken.py"].details


def test_node_id_without_file_attribute_guesses_module_and_class():
    assert node_id("tests.test_calc.TestNeg", "test_x", "") == "tests/test_calc.py::TestNeg::test_x"
    assert node_id("test_calc", "test_x", "") == "test_calc.py::test_x"
    assert node_id("", "tests.test_broken", "") == "tests/test_broken.py"


def test_entity_expansion_is_refused():
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuites><testsuite><testcase classname="t" name="&lol2;"/></testsuite></testsuites>"""

    with pytest.raises(JUnitError, match="DOCTYPE"):
        parse_junit(laughs)


def test_truncated_report_is_an_error_not_an_empty_pass():
    with pytest.raises(JUnitError, match="not well-formed"):
        parse_junit(REPORT[:300])
