import json
from pathlib import Path

import pytest

from selfheal.engine.patch import FileEdit, Patch
from selfheal.engine.security import ReviewLimits, review_patch

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "patches"


def load(kind: str) -> list[tuple[str, dict]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted((CORPUS / kind).glob("*.json"))]


def review(entry: dict, **limits):
    patch = Patch([FileEdit(e["path"], e["action"], e.get("content", "")) for e in entry["edits"]])
    return review_patch(patch, entry["files"], ReviewLimits(**limits) if limits else None)


HOSTILE = load("hostile")
ORDINARY = load("ordinary")


def test_the_corpora_are_big_enough():
    assert len(HOSTILE) >= 20
    assert len(ORDINARY) >= 20


@pytest.mark.parametrize(("name", "entry"), HOSTILE, ids=[n for n, _ in HOSTILE])
def test_hostile_patches_are_stopped_for_the_right_reason(name, entry):
    result = review(entry)
    assert result.verdict == entry["expect"], result.reasons
    assert any(entry["reason"] in reason for reason in result.reasons), result.reasons


@pytest.mark.parametrize(("name", "entry"), ORDINARY, ids=[n for n, _ in ORDINARY])
def test_ordinary_fixes_are_safe(name, entry):
    result = review(entry)
    assert result.verdict == "safe", result.reasons
    assert result.reasons == []


def test_only_newly_added_problems_count():
    before = "import subprocess\n\n\ndef run():\n    return subprocess.run(['ls'])\n"
    unchanged = review_patch(
        Patch([FileEdit("tool.py", "modify", before + "\nX = 1\n")]), {"tool.py": before}
    )
    assert unchanged.verdict == "safe"
    # A second call into a module the file already imports: a person looks at it.
    more = before + "\n\ndef rm():\n    return subprocess.run(['rm', '-rf', 'build'])\n"
    second = review_patch(Patch([FileEdit("tool.py", "modify", more)]), {"tool.py": before})
    assert second.verdict == "risky"
    assert any("subprocess.run" in r for r in second.reasons)


def test_a_second_eval_is_new_even_when_one_was_there():
    before = "def a(x):\n    return eval(x)\n"
    after = before + "\n\ndef b(x):\n    return eval(x)\n"
    result = review_patch(Patch([FileEdit("m.py", "modify", after)]), {"m.py": before})
    assert result.verdict == "blocked"
    assert any("m.py:6" in r for r in result.reasons), result.reasons


def test_removing_a_dangerous_call_is_safe():
    before = "import os\n\n\ndef f():\n    os.system('ls')\n"
    result = review_patch(
        Patch([FileEdit("m.py", "modify", "import os\n\n\ndef f():\n    pass\n")]), {"m.py": before}
    )
    assert result.verdict == "safe"


def test_bandit_findings_are_reported_and_nosec_does_not_hide_them():
    before = "import hashlib\n\n\ndef digest(data):\n    return hashlib.sha256(data).hexdigest()\n"
    after = (
        "import hashlib\n\n\ndef digest(data):\n    return hashlib.md5(data).hexdigest()  # nosec\n"
    )
    result = review_patch(Patch([FileEdit("m.py", "modify", after)]), {"m.py": before})
    assert result.verdict == "risky"
    assert any("bandit B324" in r for r in result.reasons), result.reasons
    assert review_patch(Patch([FileEdit("m.py", "modify", after)]), {"m.py": before},
                        ReviewLimits(use_bandit=False)).verdict == "safe"  # fmt: skip


def test_a_patch_that_does_not_parse_is_risky():
    result = review_patch(
        Patch([FileEdit("m.py", "modify", "def f(:\n")]), {"m.py": "def f():\n    pass\n"}
    )
    assert result.verdict == "risky"
    assert "does not parse" in result.reasons[0]


def test_size_limits_are_configurable():
    entry = dict(ORDINARY)["09_none_check"]
    assert review(entry).verdict == "safe"
    assert review(entry, max_changed_lines=1).verdict == "risky"


def test_findings_name_the_file_and_line():
    entry = dict(HOSTILE)["01_eval_call"]
    result = review(entry)
    eval_finding = next(f for f in result.findings if "eval" in f.message)
    assert eval_finding.path == "calc.py"
    assert eval_finding.line == 15
    assert eval_finding.severity == "blocked"
