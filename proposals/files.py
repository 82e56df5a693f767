"""Project files: import, history, and the file set a proposal is tested with.

Every change keeps the previous content as a ProjectFileVersion; nothing is edited in place.
"""

import io
import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from selfheal.engine.patch import UnsafePath, validate_path
from selfheal.models import Project

from .models import ProjectFile, ProjectFileVersion

SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox",
                ".mypy_cache", ".pytest_cache", ".ruff_cache"}  # fmt: skip


class BadFiles(ValueError):
    """Files that cannot be taken: the message says which and why."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: reason"

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def decode_text(path: str, data: bytes) -> str:
    """UTF-8 text or a BadFiles naming the file; sizes are checked by the caller."""
    if b"\x00" in data:
        raise BadFiles(f"{path}: binary files are not accepted.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFiles(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None


def check_file(path: str, content: str) -> str:
    """The normalised path, or BadFiles for an unsafe path or an oversized file."""
    try:
        clean = validate_path(path)
    except UnsafePath as exc:
        raise BadFiles(f"{path!r}: {exc}") from None
    size = len(content.encode("utf-8"))
    if size > settings.MAX_FILE_BYTES:
        raise BadFiles(f"{clean}: {size} bytes is over the {settings.MAX_FILE_BYTES}-byte limit.")
    return clean


def current_files(project: Project) -> dict[str, str]:
    return dict(
        ProjectFile.objects.filter(project=project, deleted=False).values_list("path", "content")
    )


@transaction.atomic
def write_files(project: Project, changes: dict[str, str | None], source: str) -> ImportResult:
    """Write new contents (None deletes) as new versions; unchanged files get no new version."""
    result = ImportResult()
    existing = {f.path: f for f in ProjectFile.objects.select_for_update().filter(project=project)}
    for path, content in sorted(changes.items()):
        file = existing.get(path)
        deleted = content is None
        if file is not None and file.deleted == deleted and file.content == (content or ""):
            result.unchanged += 1
            continue
        if file is None:
            if deleted:
                continue
            file = ProjectFile.objects.create(
                project=project, path=path, content=content, version=1
            )
            result.created += 1
        else:
            file.version += 1
            file.content = "" if deleted else content
            file.deleted = deleted
            file.save(update_fields=["content", "version", "deleted", "updated_at"])
            result.updated += 1
        ProjectFileVersion.objects.create(
            file=file, version=file.version, content=file.content, deleted=deleted, source=source
        )
    total = sum(len(c.encode()) for c in current_files(project).values())
    if total > settings.MAX_PROJECT_BYTES:
        raise BadFiles(
            f"The project would hold {total} bytes, over the {settings.MAX_PROJECT_BYTES}-byte limit."
        )
    return result


def mark_versions_passing(project: Project, files: dict[str, str]) -> None:
    """Record that a test run passed with these contents (the revert strategy's raw material)."""
    for path, content in files.items():
        ProjectFileVersion.objects.filter(
            file__project=project, file__path=path, content=content
        ).update(tests_passed=True)


def passing_versions(project: Project, paths: list[str]) -> dict[str, list[str]]:
    """Earlier contents of `paths` that a passing run was made with, newest first."""
    found: dict[str, list[str]] = {}
    rows = ProjectFileVersion.objects.filter(
        file__project=project, file__path__in=paths, tests_passed=True, deleted=False
    ).values_list("file__path", "content")
    for path, content in rows:
        if content not in found.setdefault(path, []):
            found[path].append(content)
    return found


def read_directory(root: Path) -> tuple[dict[str, str], list[str]]:
    """The text files under `root` and the ones skipped (with why). Links are never followed."""
    if not root.is_dir():
        raise BadFiles(f"{root} is not a directory.")
    files: dict[str, str] = {}
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink() or not full.is_file():
                skipped.append(f"{rel}: links and special files are not imported")
                continue
            if full.stat().st_size > settings.MAX_FILE_BYTES:
                skipped.append(f"{rel}: over the {settings.MAX_FILE_BYTES}-byte limit")
                continue
            try:
                content = decode_text(rel, full.read_bytes())
                files[check_file(rel, content)] = content
            except BadFiles as exc:
                skipped.append(str(exc))
    return files, skipped


def read_archive(data: bytes, name: str = "upload") -> dict[str, str]:
    """The files of a .zip or .tar(.gz) archive; any unsafe member refuses the whole archive."""
    if len(data) > settings.MAX_PROJECT_BYTES:
        raise BadFiles(f"{name}: the archive is over the {settings.MAX_PROJECT_BYTES}-byte limit.")
    members = _zip_members(data) if zipfile.is_zipfile(io.BytesIO(data)) else _tar_members(data)
    files: dict[str, str] = {}
    budget = settings.MAX_PROJECT_BYTES
    for member_name, size, read in members:
        if size > settings.MAX_FILE_BYTES:
            raise BadFiles(f"{member_name}: over the {settings.MAX_FILE_BYTES}-byte limit.")
        budget -= size
        if budget < 0:
            raise BadFiles(f"{name}: unpacks to more than {settings.MAX_PROJECT_BYTES} bytes.")
        content = decode_text(member_name, read())
        files[check_file(member_name, content)] = content
    if not files:
        raise BadFiles(f"{name}: the archive holds no files.")
    return _strip_common_root(files)


def _zip_members(data: bytes):
    archive = zipfile.ZipFile(io.BytesIO(data))
    for info in archive.infolist():
        if info.is_dir() or Path(info.filename).parts[:1] == ("__MACOSX",):
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise BadFiles(f"{info.filename}: links are not accepted in an archive.")
        yield (
            info.filename,
            info.file_size,
            lambda info=info: archive.read(info)[: info.file_size + 1],
        )


def _tar_members(data: bytes):
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except tarfile.TarError:
        raise BadFiles("The upload is neither a zip nor a tar archive.") from None
    for member in archive.getmembers():
        if member.isdir():
            continue
        if not member.isfile():
            raise BadFiles(
                f"{member.name}: links and special files are not accepted in an archive."
            )
        yield member.name, member.size, lambda member=member: archive.extractfile(member).read()


def _strip_common_root(files: dict[str, str]) -> dict[str, str]:
    """`myproj/src/x.py` and `myproj/tests/...` → `src/x.py`, as archives of one folder usually are."""
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: content for path, content in files.items()}
    return files


def import_files(project: Project, files: dict[str, str], source: str) -> ImportResult:
    if len(files) > settings.MAX_FILES_PER_PROJECT:
        raise BadFiles(
            f"{len(files)} files is over the {settings.MAX_FILES_PER_PROJECT}-file limit."
        )
    return write_files(project, dict(files), source)
