"""The build directory: one build at a time per output directory (a lock), leftovers of
interrupted builds removed, and the finished build put in place in one atomic exchange."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from budgetkg.build.pipeline import _Input

RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where the
    platform or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap(tmp: Path, out: Path) -> None:
    """Put the finished build `tmp` at `out` in one atomic step: a reader opening any file under
    `out` sees the old build or the new one, never a missing or half-written directory.

    `out` stays a real directory (paths like out/store and tools like cp, tar or a container
    bind mount see no symlink): the two directories are exchanged with renameat2, then the old
    one is deleted. Where that call is missing (not Linux), two renames with a short gap."""
    if not out.exists() and not out.is_symlink():
        os.rename(tmp, out)
        return
    old = tmp.with_name(tmp.name.replace("-building-", "-old-"))
    if exchange(tmp, out):
        os.rename(tmp, old)
    else:
        os.replace(out, old)
        os.replace(tmp, out)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def remove_leftovers(out: Path) -> None:
    """Temporary and old directories of interrupted builds (we hold the lock: none is running)."""
    prefixes = (f".{out.name}-building-", f".{out.name}-old-")
    for path in out.parent.iterdir():
        if path.name.startswith(prefixes) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """One build at a time per output directory (a second one fails fast)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = out.parent / f".{out.name}.lock"
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"another budgetkg build is writing {out} (lock {lock})") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def keep_source(item: _Input, old_sources: Path, sources: Path) -> None:
    """sources/<sha256>.pdf, so pages can link to the page an amount was read from."""
    target = sources / f"{item.sha256}.pdf"
    old = old_sources / target.name
    if old.is_file():
        with contextlib.suppress(OSError):
            os.link(old, target)
            return
    shutil.copyfile(item.path, target)
