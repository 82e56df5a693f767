"""Landlock (Linux >= 5.13) through raw syscalls: the sandbox's fallback when namespaces are refused.

`build_ruleset` runs in the child before it drops privileges (it opens the allowed paths);
`restrict_self` runs last, just before exec. From then on the process and everything it starts can
read and execute only below `read_paths`, write only below `write_paths`, and (ABI >= 4) neither
connect nor bind any TCP port; with ABI >= 6 it can neither signal processes outside its domain nor
reach abstract UNIX sockets. Pathname UNIX sockets are not covered by any ABI up to 7.
"""

from __future__ import annotations

import ctypes
import os
import stat

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on x86-64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_WRITE_DIR = sum(1 << bit for bit in range(4, 13))  # remove dir/file, make char/dir/reg/sock/...
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_TCP_BIND, _TCP_CONNECT = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _handled_fs(abi: int) -> int:
    rights = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _WRITE_DIR
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def build_ruleset(read_paths: list[str], write_paths: list[str]) -> int:
    """Create a ruleset allowing the given paths; return its file descriptor."""
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available")
    handled = _handled_fs(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=(_TCP_BIND | _TCP_CONNECT) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # the kernel rejects fields it doesn't know
    ruleset_fd = _check(_libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), size, 0))
    read_rights = EXECUTE | READ_FILE | READ_DIR
    for paths, rights in ((read_paths, read_rights), (write_paths, handled)):
        for path in paths:
            _allow(ruleset_fd, path, rights & handled)
    return ruleset_fd


def restrict_self(ruleset_fd: int) -> None:
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0))
    os.close(ruleset_fd)


def _allow(ruleset_fd: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= EXECUTE | WRITE_FILE | READ_FILE | _TRUNCATE | _IOCTL_DEV  # file-only rights
        attr = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        _check(_libc.syscall(_SYS_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(attr), 0))
    finally:
        os.close(fd)


def _check(result: int) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result
