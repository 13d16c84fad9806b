"""Linux namespaces, mounts and privileges for the fork server's children (:mod:`course_utils.grading.zygote`).

Thin :mod:`ctypes` wrappers over the system calls bubblewrap itself makes (``unshare``, ``mount``,
``prctl``, ``capset``): Python 3.11 has none of them. Each raises :class:`OSError` with the call's
name when the kernel refuses. Nothing here decides policy; the zygote module says what is mounted where.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["CLONE_NEWNS", "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWIPC", "CLONE_NEWUTS",
           "unshare", "map_single_user", "mount", "bind", "move", "make_read_only", "make_mounts_private",
           "set_parent_death_signal", "set_no_new_privs", "drop_capabilities", "set_dumpable",
           "forbid_user_namespaces", "effective_capabilities"]

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move this (single-threaded) process into new namespaces of the kinds in ``flags``."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def map_single_user(uid: int, gid: int) -> None:
    """In a user namespace just made: map ``uid``/``gid`` to themselves and nothing else (no setgroups)."""
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)), f"mount {target}")


def make_mounts_private() -> None:
    """Nothing mounted in this mount namespace propagates anywhere else."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def bind(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND)


def move(source: str, target: str) -> None:
    mount(source, target, None, MS_MOVE)


def make_read_only(target: str) -> None:
    """Make the mount at ``target`` read-only in this mount namespace only (a bind remount; it keeps its other flags)."""
    current = os.statvfs(target).f_flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                             (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21)):
        if current & st_flag:
            flags |= ms_flag
    mount(None, target, None, flags)


def set_parent_death_signal(signal_number: int) -> None:
    """The kernel sends ``signal_number`` to this process when the thread that forked it ends."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def set_no_new_privs() -> None:
    """No program this process runs can gain privileges (set-user-ID bits and file capabilities are ignored)."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def set_dumpable(flag: bool) -> None:
    """Not dumpable: no other process of the same user may ptrace it or read its /proc files."""
    _check(_libc.prctl(_PR_SET_DUMPABLE, int(flag), 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up every capability for good: bounding set, ambient, effective, permitted, inheritable."""
    for capability in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"prctl(PR_CAPBSET_DROP, {capability})")
    _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def effective_capabilities() -> int:
    """This process's effective capability set, as /proc/self/status shows it (0: none)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    raise OSError("no CapEff line in /proc/self/status")


def forbid_user_namespaces() -> None:
    """No process in this user namespace (or below it) may create another one (bubblewrap's --disable-userns)."""
    with open("/proc/sys/user/max_user_namespaces", "w") as handle:
        handle.write("0")
    with open("/proc/sys/user/max_user_namespaces") as handle:
        if handle.read().strip() != "0":
            raise OSError("max_user_namespaces did not stay 0")
