"""Make a query worker unable to open a network connection (Linux seccomp).

A SPARQL ``SERVICE`` clause makes the engine call a URL: on a public endpoint that is a proxy
into whatever network the server sits in (server-side request forgery). The text guard
(:mod:`budgetkg.serve.guard`) refuses visible ``SERVICE`` clauses early, but a guard is a
second parser, and two parsers can disagree about where a string ends (the ``"A\\u005C"``
bypass of issue #12). So the process that evaluates queries is confined: a seccomp filter
makes ``socket()`` fail with ``EACCES`` for every address family but ``AF_UNIX`` (the worker's
pipe to the server is a socketpair made before the filter), and ``io_uring_setup`` fail too
(io_uring can create sockets without the ``socket`` system call). A process that cannot make a
socket cannot be tricked into connecting anywhere, whatever the query says.

The filter is installed once, first thing in the worker, for all its threads (``TSYNC``), with
``no_new_privs`` set as the kernel requires; it cannot be removed afterwards. Where it cannot be
installed (not Linux, an unknown CPU, a kernel without seccomp) :func:`confine` says why and
the worker falls back to refusing every query that mentions ``service`` at all.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys
from dataclasses import dataclass

# <linux/filter.h>, <linux/seccomp.h>, <linux/audit.h>
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EACCES = 13
_AF_UNIX = 1
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_X32_SYSCALL_BIT = 0x40000000

# seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0 = 0, 4, 16


@dataclass(frozen=True)
class _Arch:
    audit_arch: int
    socket: int
    io_uring_setup: int
    seccomp: int


# System call numbers per CPU (unistd.h); io_uring_setup is 425 on both.
_ARCHES = {
    "x86_64": _Arch(audit_arch=0xC000003E, socket=41, io_uring_setup=425, seccomp=317),
    "aarch64": _Arch(audit_arch=0xC00000B7, socket=198, io_uring_setup=425, seccomp=277),
}


@dataclass(frozen=True)
class Confinement:
    """What :func:`confine` achieved: ``network_blocked`` and, when not, why."""

    network_blocked: bool
    reason: str = ""


def _assemble(arch: _Arch) -> bytes:
    """The BPF filter, packed as ``struct sock_filter`` (code, jump-if-true, jump-if-false, k).

    Jumps are relative to the next instruction; each line says where it goes.
    tests/test_serve_federation.py runs a confined process (inet sockets refused in every
    thread, AF_UNIX still allowed) and the real pool against a loopback canary.
    """
    deny = (_RET_K, 0, 0, _RET_ERRNO | _EACCES)
    allow = (_RET_K, 0, 0, _RET_ALLOW)
    prog = [
        (_LD_W_ABS, 0, 0, _ARCH),  # 0
        (_JEQ_K, 1, 0, arch.audit_arch),  # 1: == native → 3, else 2
        deny,  # 2
        (_LD_W_ABS, 0, 0, _NR),  # 3
        (_JGE_K, 6, 0, _X32_SYSCALL_BIT),  # 4: x32 → 11 (deny), else 5
        (_JEQ_K, 3, 0, arch.socket),  # 5: socket → 9, else 6
        (_JEQ_K, 4, 0, arch.io_uring_setup),  # 6: → 11 (deny), else 7
        allow,  # 7
        allow,  # 8 (padding, unreached)
        (_LD_W_ABS, 0, 0, _ARG0),  # 9: domain
        (_JEQ_K, 1, 0, _AF_UNIX),  # 10: AF_UNIX → 12 (allow), else 11
        deny,  # 11
        allow,  # 12
    ]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def confine() -> Confinement:
    """Block network sockets for this process and all its threads, for good."""
    if not sys.platform.startswith("linux"):
        return Confinement(False, f"seccomp is Linux-only (this is {sys.platform})")
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return Confinement(False, f"no seccomp filter for CPU {platform.machine()!r}")
    code = _assemble(arch)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return Confinement(False, f"prctl(PR_SET_NO_NEW_PRIVS) failed: errno {ctypes.get_errno()}")
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    rc = syscall(
        ctypes.c_long(arch.seccomp),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(prog),
    )
    if rc != 0:
        return Confinement(False, f"seccomp(SET_MODE_FILTER) failed: errno {ctypes.get_errno()}")
    return Confinement(True)
