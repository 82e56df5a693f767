"""CONTRACT (to be implemented): a Patch is a set of file edits; unified diffs in and out."""

from __future__ import annotations

from dataclasses import dataclass, field


class UnsafePath(ValueError):
    """An absolute path, a `..` component, a link out, or a name the platform refuses."""


class PatchConflict(Exception):
    """The patch does not apply to the files it was given."""


@dataclass(frozen=True)
class FileEdit:
    path: str
    action: str  # "create" | "modify" | "delete"
    content: str = ""  # the whole new content for create / modify
    # For modify: the content the edit was made against; apply() raises PatchConflict when the
    # current file differs from it. None means "whatever is there".
    base_content: str | None = None


@dataclass
class Patch:
    edits: list[FileEdit] = field(default_factory=list)
