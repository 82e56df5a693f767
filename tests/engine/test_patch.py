"""Patches: safe paths, conflict-checked edits, and unified diffs that git and patch agree with."""

import random
import subprocess

import pytest

from selfheal.engine.patch import (
    FileEdit,
    MalformedDiff,
    Patch,
    PatchConflict,
    UnsafePath,
    validate_path,
)

BEFORE = {
    "calc/ops.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "calc/__init__.py": "",
    "README.md": "# Calc\n\nAdds numbers.",  # no newline at the end
    "old.txt": "remove me\n",
    "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
AFTER = {
    "calc/ops.py": "import math\n\n\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return math.fsum([a, -b])\n",
    "calc/__init__.py": "",
    "README.md": "# Calc\n\nAdds and subtracts numbers.\n",
    "calc/mul.py": "def mul(a, b):\n    return a * b\n",
    "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "empty.txt": "",
}


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, clean",
    [
        ("calc/ops.py", "calc/ops.py"),
        ("./calc//ops.py", "calc/ops.py"),
        ("calc/./ops.py", "calc/ops.py"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("dir with spaces/naïve ünïcode.py", "dir with spaces/naïve ünïcode.py"),
        ("..hidden", "..hidden"),
    ],
)
def test_paths_are_normalised(path, clean):
    assert validate_path(path) == clean


@pytest.mark.parametrize(
    "path, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/etc/passwd", "absolute"),
        ("../secrets.env", r"'\.\.'"),
        ("calc/../../etc/passwd", r"'\.\.'"),
        ("calc/..", r"'\.\.'"),
        ("..\\..\\windows\\system.ini", "backslash"),
        ("C:/Windows/x.py", "absolute"),
        ("c:evil.py", "absolute"),
        ("~/.ssh/authorized_keys", "'~'"),
        ("calc/ops.py\x00.txt", "NUL"),
        ("calc/ops\n.py", "control character"),
        ("calc/", "directory"),
        (".", "names no file"),
        ("./", "directory"),
        ("a/" * 600 + "x.py", "longer than"),
        ("x" * 256 + ".py", "longer than 255 bytes"),
        (None, "text"),
    ],
)
def test_unsafe_paths_are_refused(path, reason):
    with pytest.raises(UnsafePath, match=reason):
        validate_path(path)


def test_paths_through_links_out_of_the_root_are_refused(tmp_path):
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/mod.py").write_text("x = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "dangling").symlink_to(tmp_path / "nowhere/secret")
    (root / "alias").symlink_to(root / "pkg")
    (root / "loop").symlink_to(root / "loop")

    assert validate_path("pkg/mod.py", root=root) == "pkg/mod.py"
    assert validate_path("pkg/new_file.py", root=root) == "pkg/new_file.py"
    assert validate_path("alias/mod.py", root=root) == "alias/mod.py"  # a link that stays inside
    for path in ("escape/x.py", "escape", "dangling"):
        with pytest.raises(UnsafePath, match="outside the project"):
            validate_path(path, root=root)
    with pytest.raises(UnsafePath):
        validate_path("loop/x.py", root=root)


# --- applying ------------------------------------------------------------------------------------


def test_apply_returns_new_files_and_leaves_the_input_alone():
    files = dict(BEFORE)
    patch = Patch(
        [
            FileEdit("calc/mul.py", "create", "def mul(a, b):\n    return a * b\n"),
            FileEdit("./calc/ops.py", "modify", "pass\n", base_content=BEFORE["calc/ops.py"]),
            FileEdit("old.txt", "delete"),
        ]
    )
    result = patch.apply(files)
    assert files == BEFORE
    assert result["calc/mul.py"].startswith("def mul")
    assert result["calc/ops.py"] == "pass\n"
    assert "old.txt" not in result
    assert patch.changed_paths() == ["calc/mul.py", "./calc/ops.py", "old.txt"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (FileEdit("calc/ops.py", "create", "x"), "already exists"),
        (FileEdit("calc/missing.py", "modify", "x"), "does not exist"),
        (FileEdit("calc/missing.py", "delete"), "does not exist"),
        (FileEdit("calc/ops.py", "modify", "x", base_content="stale\n"), "has changed"),
        (FileEdit("old.txt", "delete", base_content="other\n"), "has changed"),
    ],
)
def test_conflicts(edit, message):
    with pytest.raises(PatchConflict, match=message) as caught:
        Patch([edit]).apply(BEFORE)
    assert caught.value.path == edit.path


def test_bad_edits_are_refused():
    with pytest.raises(UnsafePath):
        Patch([FileEdit("../outside.py", "create", "x")]).apply(BEFORE)
    with pytest.raises(ValueError, match="unknown action 'rename'"):
        Patch([FileEdit("old.txt", "rename", "x")]).apply(BEFORE)


# --- diffs out -----------------------------------------------------------------------------------


def test_diff_is_git_style():
    diff = Patch.from_files(BEFORE, AFTER).to_unified_diff(BEFORE)
    assert "--- a/calc/ops.py\n+++ b/calc/ops.py\n" in diff
    assert "--- /dev/null\n+++ b/calc/mul.py\n" in diff
    assert "--- a/old.txt\n+++ /dev/null\n" in diff
    assert "-Adds numbers.\n\\ No newline at end of file\n+Adds and subtracts numbers.\n" in diff
    assert "tests/test_ops.py" not in diff  # unchanged


def write_tree(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def read_tree(root):
    return {
        str(p.relative_to(root)): p.read_text()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_git_and_gnu_patch_apply_our_diff(tmp_path):
    diff = Patch.from_files(BEFORE, AFTER).to_unified_diff(BEFORE)
    with_git = tmp_path / "git"
    write_tree(with_git, BEFORE)
    subprocess.run(["git", "init", "-q"], cwd=with_git, check=True)
    subprocess.run(["git", "apply", "-"], cwd=with_git, input=diff, text=True, check=True)
    assert read_tree(with_git) == AFTER

    text_only = {k: v for k, v in AFTER.items() if k != "empty.txt"}  # patch skips empty files
    with_patch = tmp_path / "patch"
    write_tree(with_patch, BEFORE)
    subprocess.run(
        ["patch", "-p1", "-s", "--force"], cwd=with_patch, input=diff, text=True, check=True
    )
    assert {k: v for k, v in read_tree(with_patch).items() if k != "empty.txt"} == text_only


def test_diff_without_files_uses_base_content():
    patch = Patch.from_files(BEFORE, AFTER)
    assert patch.to_unified_diff() == patch.to_unified_diff(BEFORE)
    with pytest.raises(ValueError, match="needs `files`"):
        Patch([FileEdit("calc/ops.py", "modify", "x")]).to_unified_diff()


# --- diffs in ------------------------------------------------------------------------------------


def test_a_diff_made_by_git(tmp_path):
    write_tree(tmp_path, BEFORE)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "before"], cwd=tmp_path, check=True)
    (tmp_path / "old.txt").unlink()
    write_tree(tmp_path, AFTER)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    diff = subprocess.run(
        [*git, "diff", "--cached", "--no-renames"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    patch = Patch.from_unified_diff(diff, BEFORE)
    assert patch.apply(BEFORE) == AFTER
    assert {e.path: e.action for e in patch.edits} == {
        "README.md": "modify",
        "calc/mul.py": "create",
        "calc/ops.py": "modify",
        "empty.txt": "create",
        "old.txt": "delete",
    }


def test_a_plain_diff_u(tmp_path):
    (tmp_path / "ops.py.orig").write_text(BEFORE["calc/ops.py"])
    (tmp_path / "ops.py").write_text(AFTER["calc/ops.py"])
    diff = subprocess.run(
        ["diff", "-u", "ops.py.orig", "ops.py"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert "\t" in diff.splitlines()[0]  # diff -u puts timestamps after a tab
    files = {"ops.py": BEFORE["calc/ops.py"]}
    assert Patch.from_unified_diff(diff, files).apply(files) == {"ops.py": AFTER["calc/ops.py"]}


def test_hunks_with_wrong_line_numbers_still_apply_where_they_match():
    files = {"calc/ops.py": "# header\n# more\n" + BEFORE["calc/ops.py"]}
    diff = (
        "--- a/calc/ops.py\n+++ b/calc/ops.py\n"
        "@@ -5,2 +5,2 @@\n"
        " def sub(a, b):\n-    return a - b\n+    return b - a\n"
    )  # the real lines are 7-8: an assistant counted from the original file
    patched = Patch.from_unified_diff(diff, files).apply(files)
    assert patched["calc/ops.py"].endswith("def sub(a, b):\n    return b - a\n")


def test_repeated_lines_are_changed_where_the_hunk_says():
    files = {"marks.txt": "a\nx\nb\nx\nc\nx\n"}
    # The first hunk adds two lines; the second names original line 4, now line 6.
    header = "--- a/marks.txt\n+++ b/marks.txt\n"
    diff = header + "@@ -1 +1,3 @@\n-a\n+a\n+a2\n+a3\n" + "@@ -4 +6 @@\n-x\n+X\n"
    patched = Patch.from_unified_diff(diff, files).apply(files)
    assert patched == {"marks.txt": "a\na2\na3\nx\nb\nX\nc\nx\n"}


def test_a_hunk_that_matches_nowhere_names_the_file_and_hunk():
    diff = (
        "--- a/calc/ops.py\n+++ b/calc/ops.py\n"
        "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b\n+    return a + b + 0\n"
        "@@ -5,2 +5,2 @@\n def sub(a, b):\n-    return a * b\n+    return b\n"
    )
    with pytest.raises(PatchConflict, match=r"calc/ops.py: hunk 2 \(@@ -5,2 \+5,2 @@\)") as caught:
        Patch.from_unified_diff(diff, BEFORE)
    assert (caught.value.path, caught.value.hunk) == ("calc/ops.py", 2)


@pytest.mark.parametrize(
    "diff, error, message",
    [
        ("", MalformedDiff, "no file changes"),
        ("just some text\nnot a diff\n", MalformedDiff, "no file changes"),
        ("@@ -1 +1 @@\n-a\n+b\n", MalformedDiff, "without a ---/\\+\\+\\+"),
        ("--- a/old.txt\n+++ b/old.txt\n@@ -1,3 +1,3 @@\n-remove me\n", MalformedDiff, "cut short"),
        ("--- a/old.txt\n+++ b/old.txt\n@@ -1 +1 @@\n?remove me\n", MalformedDiff, "fewer lines"),
        ("--- a/old.txt\n+++ b/old.txt\n@@ bad @@\n", MalformedDiff, "malformed header"),
        ("--- a/x\n+++ b/y\nrename from x\n", MalformedDiff, "renames"),
        ("--- /dev/null\n+++ b/old.txt\n@@ -0,0 +1 @@\n+x\n", PatchConflict, "already exists"),
        ("--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n", PatchConflict, "does not exist"),
        (
            "--- a/calc/ops.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-def add(a, b):\n-    return a + b\n",
            PatchConflict,
            "does not remove all",
        ),
        (
            "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
            UnsafePath,
            "goes up",
        ),
        ("--- /dev/null\n+++ /dev/null\n", MalformedDiff, "/dev/null to /dev/null"),
    ],
)
def test_bad_diffs(diff, error, message):
    with pytest.raises(error, match=message):
        Patch.from_unified_diff(diff, BEFORE)


def test_removed_lines_that_look_like_headers():
    files = {"notes.sql": "-- comment\n--- banner\nselect 1;\n"}
    after = {"notes.sql": "select 1;\n+++ plus\n"}
    diff = Patch.from_files(files, after).to_unified_diff(files)
    assert "\n---- banner\n" in diff
    assert Patch.from_unified_diff(diff, files).apply(files) == after


def test_two_sections_for_one_file_make_one_edit():
    diff = (
        "--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -1,2 +1,2 @@\n"
        "-def add(a, b):\n+def plus(a, b):\n     return a + b\n"
        "--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -5,2 +5,2 @@\n"
        "-def sub(a, b):\n+def minus(a, b):\n     return a - b\n"
    )
    patch = Patch.from_unified_diff(diff, BEFORE)
    assert len(patch.edits) == 1
    content = patch.apply(BEFORE)["calc/ops.py"]
    assert "def plus(" in content and "def minus(" in content


# --- round trips ---------------------------------------------------------------------------------

TRICKY = {
    "crlf.txt": "one\r\ntwo\r\n",
    "no_newline.py": "x = 1",
    "feed.txt": "page one\x0cpage two\nline\u2028sep\n",
    "blank_lines.txt": "\n\n\n",
    "unicode.py": "naïve = '☃'\n",
}
TRICKY_AFTER = {
    "crlf.txt": "one\r\n2\r\ntwo\r\n",
    "no_newline.py": "x = 2",
    "feed.txt": "page one\x0cpage 2\nline\u2028sep\n",
    "blank_lines.txt": "\n\n",
    "unicode.py": "naïve = '☃☃'",
}


def round_trip(before: dict[str, str], after: dict[str, str]) -> None:
    patch = Patch.from_files(before, after)
    diff = patch.to_unified_diff(before)
    assert patch.apply(before) == after
    assert Patch.from_unified_diff(diff, before).apply(before) == after if diff else before == after


def test_round_trip_of_tricky_content():
    round_trip(TRICKY, TRICKY_AFTER)
    round_trip(BEFORE, AFTER)
    round_trip({}, {"a/b/c.py": "x\n"})
    round_trip({"gone.py": "x\n", "empty": ""}, {})


def mutate(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(lines) + 1)
        choice = rng.random()
        if choice < 0.4:
            lines.insert(at, f"new line {rng.randint(0, 99)}")
        elif choice < 0.8 and lines:
            del lines[min(at, len(lines) - 1)]
        elif lines:
            lines[min(at, len(lines) - 1)] += " changed"
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(25))
def test_round_trip_of_random_edits(seed):
    rng = random.Random(seed)
    before = {
        f"pkg/m{i}.py": "\n".join(f"line {j}" for j in range(rng.randint(0, 60)))
        + rng.choice(["", "\n"])
        for i in range(4)
    }
    after = {path: mutate(rng, text) for path, text in before.items() if rng.random() < 0.8}
    after["pkg/new.py"] = "created\n"
    round_trip(before, after)


def test_lines_changed_matches_git_numstat(tmp_path):
    patch = Patch.from_files(BEFORE, AFTER)
    diff = patch.to_unified_diff(BEFORE)
    numstat = subprocess.run(
        ["git", "apply", "--numstat", "-"], cwd=tmp_path, input=diff, capture_output=True, text=True
    ).stdout
    counted = sum(
        int(a) + int(d) for a, d, _ in (line.split("\t") for line in numstat.splitlines())
    )
    assert patch.lines_changed(BEFORE) == counted
    assert patch.lines_changed() == counted  # from base_content alone
    assert Patch().lines_changed({}) == 0
