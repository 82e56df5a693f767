"""Files into and out of the sandbox: the boundary where paths and links are untrusted."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class UnsafePath(ValueError):
    """A file path that could escape the sandbox directory or cannot be written into it."""


def materialise(files: dict[str, str], directory: Path) -> None:
    """Write `files` (relative path -> text) into the new directory `directory`."""
    directory.mkdir(mode=0o700)
    for name, text in files.items():
        target = directory.joinpath(*_safe_parts(name))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "x", encoding="utf-8") as handle:
                handle.write(text)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise UnsafePath(f"{name!r} clashes with another file or directory") from exc
        except OSError as exc:
            raise UnsafePath(f"{name!r} cannot be written: {exc.strerror}") from exc


def read_result_file(directory: Path, name: str, max_bytes: int) -> bytes | None:
    """Read a file the sandbox wrote, without following any link, never blocking on a FIFO and
    never reading more than `max_bytes`. None when the file does not exist."""
    parts = _safe_parts(name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    dir_fd = os.open(directory, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink; ENOTDIR: a link or file where a directory should be
        raise UnsafePath(f"result file {name!r} refused: {exc.strerror}") from exc
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise UnsafePath(f"result file {name!r} refused: not a plain regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafePath(f"result file {name!r} refused: larger than {max_bytes} bytes")
    return data


def _safe_parts(name: str) -> list[str]:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not name or "\x00" in name or name.startswith("/") or ".." in parts or not parts:
        raise UnsafePath(f"{name!r} is not a relative path inside the project")
    return parts


def read_capped_output(handle: BinaryIO, max_bytes: int) -> tuple[str, bool]:
    """The whole output when it fits, else its head and tail (pytest's summary is at the end)."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    if size <= max_bytes:
        return handle.read().decode("utf-8", "replace"), False
    half = max_bytes // 2
    head = handle.read(half)
    handle.seek(size - half)
    tail = handle.read(half)
    cut = f"\n[sandbox] ... {size - 2 * half} bytes cut ...\n".encode()
    return (head + cut + tail).decode("utf-8", "replace"), True


def chown_tree(directory: Path, uid: int) -> None:
    for parent, dirs, names in os.walk(directory):
        for name in dirs + names:
            os.lchown(os.path.join(parent, name), uid, uid)
