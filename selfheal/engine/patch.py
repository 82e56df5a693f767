"""A Patch is a set of file edits (whole new contents); unified diffs in and out.

Paths are validated before anything touches them: relative, posix, no `..`, no control characters,
and (given a root) not resolving through a symbolic link to outside it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_PATH_LENGTH = 1024
MAX_NAME_BYTES = 255  # a single path component, as most filesystems allow
ACTIONS = ("create", "modify", "delete")


class UnsafePath(ValueError):
    """An absolute path, a `..` component, a link out, or a name the platform refuses."""


class PatchConflict(Exception):
    """The patch does not apply to the files it was given."""

    def __init__(self, message: str, path: str = "", hunk: int | None = None):
        super().__init__(message)
        self.path = path
        self.hunk = hunk  # 1-based number of the hunk (within its file) that did not match


class MalformedDiff(PatchConflict):
    """The text is not a unified diff this parser can read (or it is truncated)."""


_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def validate_path(path: str, root: str | Path | None = None) -> str:
    """The normalised relative posix path ("./a//b.py" -> "a/b.py"), or UnsafePath with the reason.

    With `root`, a path that resolves (through symbolic links) to outside `root` is refused too.
    """
    if not isinstance(path, str):
        raise UnsafePath("the path must be text")
    if not path.strip():
        raise UnsafePath("the path is empty")
    if "\x00" in path:
        raise UnsafePath("the path contains a NUL character")
    if _CONTROL_RE.search(path):
        raise UnsafePath(f"the path {path!r} contains a control character")
    if len(path) > MAX_PATH_LENGTH:
        raise UnsafePath(f"the path is longer than {MAX_PATH_LENGTH} characters")
    if "\\" in path:
        raise UnsafePath(f"the path {path!r} contains a backslash; use '/' between directories")
    if path.startswith("/") or _DRIVE_RE.match(path):
        raise UnsafePath(f"the path {path!r} is absolute; paths are relative to the project")
    if path.startswith("~"):
        raise UnsafePath(f"the path {path!r} starts with '~'")
    if path.endswith("/"):
        raise UnsafePath(f"the path {path!r} names a directory, not a file")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        raise UnsafePath(f"the path {path!r} names no file")
    for part in parts:
        if part == "..":
            raise UnsafePath(f"the path {path!r} goes up with '..'")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafePath(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
    clean = "/".join(parts)
    if root is not None:
        try:
            base = Path(root).resolve()
            target = (base / clean).resolve()
        except (OSError, RuntimeError) as error:  # a symlink loop, an unreadable directory
            raise UnsafePath(f"the path {path!r} cannot be resolved: {error}") from None
        if not target.is_relative_to(base):
            raise UnsafePath(f"the path {path!r} leads outside the project through a symbolic link")
    return clean


def _lines(text: str) -> list[str]:
    """Lines with their "\\n" kept; only "\\n" ends a line (a stray "\\r" or form feed does not)."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@dataclass(frozen=True)
class FileEdit:
    path: str
    action: str  # "create" | "modify" | "delete"
    content: str = ""  # the whole new content for create / modify
    # For modify (and delete): the content the edit was made against; apply() raises PatchConflict
    # when the current file differs from it. None means "whatever is there".
    base_content: str | None = None


@dataclass
class Patch:
    edits: list[FileEdit] = field(default_factory=list)

    # --- applying --------------------------------------------------------------------------------

    def apply(self, files: dict[str, str]) -> dict[str, str]:
        """The files after the edits, as a new dict; `files` is not changed."""
        result = dict(files)
        for edit in self.edits:
            _apply_edit(result, edit)
        return result

    def changed_paths(self) -> list[str]:
        """The paths the edits touch, each once, in order."""
        return list(dict.fromkeys(edit.path for edit in self.edits))

    def lines_changed(self, files: dict[str, str] | None = None) -> int:
        """Lines added plus lines removed. Without `files`, modify/delete use their base_content."""
        total = 0
        for _, old, new in self._steps(files):
            matcher = difflib.SequenceMatcher(None, _lines(old or ""), _lines(new or ""), False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag != "equal":
                    total += (i2 - i1) + (j2 - j1)
        return total

    def _steps(self, files: dict[str, str] | None):
        """(path, content before, content after) per edit, None meaning "no such file"."""
        state = dict(files) if files is not None else self._base_files()
        for edit in self.edits:
            path = validate_path(edit.path)
            old = state.get(path)
            _apply_edit(state, edit)
            yield path, old, state.get(path)

    def _base_files(self) -> dict[str, str]:
        base: dict[str, str] = {}
        created: set[str] = set()
        for edit in self.edits:
            path = validate_path(edit.path)
            if path in base or path in created:
                continue
            if edit.action == "create":
                created.add(path)
            elif edit.base_content is None:
                raise ValueError(f"{path}: a {edit.action} without base_content needs `files`")
            else:
                base[path] = edit.base_content
        return base

    # --- unified diffs ---------------------------------------------------------------------------

    def to_unified_diff(self, files: dict[str, str] | None = None) -> str:
        """A git-style unified diff of the edits against `files` (or against each edit's
        base_content when `files` is None). New and deleted files use /dev/null."""
        return "".join(_file_diff(path, old, new) for path, old, new in self._steps(files))

    @classmethod
    def from_unified_diff(cls, diff: str, files: dict[str, str]) -> Patch:
        """The whole-content edits a unified diff makes to `files`.

        Each hunk must match the file exactly (context and removed lines); it is looked for at the
        line the hunk header names, else at the nearest place after the previous hunk. A hunk that
        matches nowhere raises PatchConflict naming the file and the hunk; text that is not a
        unified diff raises MalformedDiff.
        """
        working = dict(files)
        touched: list[str] = []
        for section in _parse_diff(diff):
            path = _apply_section(working, section)
            if path not in touched:
                touched.append(path)
        before = {path: files[path] for path in touched if path in files}
        after = {path: working[path] for path in touched if path in working}
        return cls.from_files(before, after)

    @classmethod
    def from_files(cls, before: dict[str, str], after: dict[str, str]) -> Patch:
        """The edits that turn `before` into `after` (sorted by path)."""
        edits = []
        for path in sorted(set(before) | set(after)):
            clean = validate_path(path)
            if path not in before:
                edits.append(FileEdit(clean, "create", after[path]))
            elif path not in after:
                edits.append(FileEdit(clean, "delete", base_content=before[path]))
            elif before[path] != after[path]:
                edits.append(FileEdit(clean, "modify", after[path], base_content=before[path]))
        return cls(edits)


def _apply_edit(files: dict[str, str], edit: FileEdit) -> None:
    path = validate_path(edit.path)
    current = files.get(path)
    if edit.action not in ACTIONS:
        raise ValueError(f"{path}: unknown action {edit.action!r} (expected one of {ACTIONS})")
    if edit.action == "create":
        if current is not None:
            raise PatchConflict(f"{path}: cannot create it, the file already exists", path)
        files[path] = edit.content
        return
    if current is None:
        raise PatchConflict(f"{path}: cannot {edit.action} it, the file does not exist", path)
    if edit.base_content is not None and current != edit.base_content:
        raise PatchConflict(f"{path}: the file has changed since this edit was made", path)
    if edit.action == "modify":
        files[path] = edit.content
    else:
        del files[path]


_NO_NEWLINE = "\\ No newline at end of file\n"


def _file_diff(path: str, old: str | None, new: str | None) -> str:
    if old == new:
        return ""
    header = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        header += ["new file mode 100644\n", "--- /dev/null\n", f"+++ b/{path}\n"]
    elif new is None:
        header += ["deleted file mode 100644\n", f"--- a/{path}\n", "+++ /dev/null\n"]
    else:
        header += [f"--- a/{path}\n", f"+++ b/{path}\n"]
    body = []
    hunks = difflib.unified_diff(_lines(old or ""), _lines(new or ""), lineterm="\n")
    for index, line in enumerate(hunks):
        if index < 2:
            continue  # difflib's own ---/+++ lines
        body.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    return "".join(header + body)


# --- reading unified diffs -----------------------------------------------------------------------

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER_RE = re.compile(r"^diff --git a/(.+) b/(.+)$")
_UNSUPPORTED = (
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "GIT binary patch",
    "Binary files ",
)


@dataclass
class _Hunk:
    number: int
    header: str
    old_start: int
    old_lines: list[str]
    new_lines: list[str]


@dataclass
class _Section:
    old_path: str | None  # None for /dev/null
    new_path: str | None
    hunks: list[_Hunk]


def _diff_path(raw: str) -> str | None:
    raw = raw.rstrip("\r").split("\t", 1)[0].rstrip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        try:  # git quotes unusual names C-style, with octal escapes for UTF-8 bytes
            raw = raw[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
            raw = raw.encode("latin-1").decode("utf-8")
        except (UnicodeError, ValueError):
            raise MalformedDiff(f"cannot read the quoted path {raw!r}") from None
    return None if raw == "/dev/null" else raw


def _strip_prefixes(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Drop git's a/ and b/ prefixes when the diff uses them."""
    git_style = (old is None or old.startswith("a/")) and (new is None or new.startswith("b/"))
    if git_style and (old or new):
        return (old[2:] if old else None), (new[2:] if new else None)
    return old, new


def _parse_diff(diff: str) -> list[_Section]:
    if not isinstance(diff, str):
        raise MalformedDiff("the diff must be text")
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sections: list[_Section] = []
    git_header: tuple[str, str] | None = None
    git_mode = ""
    i = 0

    def flush_git_header() -> None:
        # A git section without ---/+++ lines: an empty file created or deleted (or a mode change).
        if git_header and git_mode == "new":
            sections.append(_Section(None, git_header[1], []))
        elif git_header and git_mode == "deleted":
            sections.append(_Section(git_header[0], None, []))

    while i < len(lines):
        line = lines[i].rstrip("\r")
        if line.startswith("diff --git "):
            flush_git_header()
            match = _GIT_HEADER_RE.match(line)
            git_header = (match[1], match[2]) if match else None
            git_mode = ""
        elif line.startswith("new file mode"):
            git_mode = "new"
        elif line.startswith("deleted file mode"):
            git_mode = "deleted"
        elif line.startswith(_UNSUPPORTED):
            raise MalformedDiff(f"renames, copies and binary diffs are not supported: {line!r}")
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _strip_prefixes(_diff_path(line[4:]), _diff_path(lines[i + 1][4:]))
            if old is None and new is None:
                raise MalformedDiff("a file section goes from /dev/null to /dev/null")
            i += 2
            hunks: list[_Hunk] = []
            while i < len(lines) and lines[i].startswith("@@"):
                hunk, i = _parse_hunk(lines, i, len(hunks) + 1, new or old or "")
                hunks.append(hunk)
            sections.append(_Section(old, new, hunks))
            git_header = None
            continue
        elif line.startswith("@@"):
            raise MalformedDiff(f"a hunk without a ---/+++ file header: {line!r}")
        i += 1
    flush_git_header()
    if not sections:
        raise MalformedDiff("no file changes found in the diff")
    return sections


def _parse_hunk(lines: list[str], i: int, number: int, path: str) -> tuple[_Hunk, int]:
    header = lines[i].rstrip("\r")
    match = _HUNK_RE.match(header)
    if not match:
        raise MalformedDiff(
            f"{path}: hunk {number} has a malformed header {header!r}", path, number
        )
    old_count = int(match[2]) if match[2] is not None else 1
    new_count = int(match[4]) if match[4] is not None else 1
    old_lines: list[str] = []
    new_lines: list[str] = []
    last: list[list[str]] = []  # the lists the previous line went to, for "\ No newline"
    i += 1
    while len(old_lines) < old_count or len(new_lines) < new_count:
        if i >= len(lines):
            raise MalformedDiff(f"{path}: hunk {number} ({header}) is cut short", path, number)
        line = lines[i]
        if line.startswith("\\"):
            _drop_newline(last)
            i += 1
            continue
        tag, text = (line[:1], line[1:] + "\n") if line else (" ", "\n")
        if tag == " ":
            last = [old_lines, new_lines]
        elif tag == "-":
            last = [old_lines]
        elif tag == "+":
            last = [new_lines]
        else:
            raise MalformedDiff(
                f"{path}: hunk {number} ({header}) has fewer lines than its header says",
                path,
                number,
            )
        for target in last:
            target.append(text)
        i += 1
    if i < len(lines) and lines[i].startswith("\\"):
        _drop_newline(last)
        i += 1
    hunk = _Hunk(number, header, int(match[1]), old_lines, new_lines)
    return hunk, i


def _drop_newline(targets: list[list[str]]) -> None:
    for target in targets:
        if target and target[-1].endswith("\n"):
            target[-1] = target[-1][:-1]


def _apply_section(files: dict[str, str], section: _Section) -> str:
    old_path = validate_path(section.old_path) if section.old_path else None
    new_path = validate_path(section.new_path) if section.new_path else None
    if old_path is None:
        path = new_path
        if path in files:
            raise PatchConflict(f"{path}: the diff creates it, but the file already exists", path)
        current: list[str] = []
    else:
        # A plain `diff -u old new` may name two files; edit the one the project has.
        path = new_path if new_path in files or old_path not in files else old_path
        if path not in files:
            raise PatchConflict(f"{path}: the diff changes it, but the file does not exist", path)
        current = _lines(files[path])

    search_from = offset = 0
    for hunk in section.hunks:
        at = _locate(current, hunk, search_from, offset)
        if at is None:
            raise PatchConflict(
                f"{path}: hunk {hunk.number} ({hunk.header}) does not match the file",
                path,
                hunk.number,
            )
        current[at : at + len(hunk.old_lines)] = hunk.new_lines
        search_from = at + len(hunk.new_lines)
        offset += len(hunk.new_lines) - len(hunk.old_lines)

    content = "".join(current)
    if new_path is None:
        if content:
            raise PatchConflict(
                f"{path}: the diff deletes the file but does not remove all of its lines", path
            )
        del files[path]
    else:
        files[path] = content
    return path


def _locate(lines: list[str], hunk: _Hunk, search_from: int, offset: int) -> int | None:
    """Where the hunk's old lines are: at the stated line if they match, else the nearest match.

    `offset` is how many lines the earlier hunks added (or removed, negative) above this one.
    """
    size = len(hunk.old_lines)
    # An insertion-only hunk ("-5,0") names the line after which it goes.
    expected = (hunk.old_start if size == 0 else hunk.old_start - 1) + offset
    if size == 0:
        return expected if search_from <= expected <= len(lines) else None
    candidates = range(search_from, len(lines) - size + 1)
    for at in sorted(candidates, key=lambda at: abs(at - expected)):
        if lines[at : at + size] == hunk.old_lines:
            return at
    return None
