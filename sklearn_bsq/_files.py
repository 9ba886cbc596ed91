"""Atomic file writes for ``save`` and the exporters (standard library only)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)``: into a temporary file beside it,
    synced, then renamed into place, so readers see the old file or the new one,
    never a torn one.

    The file gets the mode ``open()`` would give it (``0o666`` less the umask), not
    the ``0o600`` of a temporary file. A temporary file left by a writer that was
    killed (its process no longer runs on this machine) is removed by the next
    write to the same path; an interrupted write removes its own.
    """
    path = Path(path)
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask. Reading it means setting it, so set it straight back
    (Linux also shows it in /proc, which avoids the brief change)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_orphans(path: Path) -> None:
    """Remove ``.NAME.PID.*.tmp`` files beside ``path`` whose writer has died."""
    prefix = f".{path.name}."
    try:
        siblings = list(path.parent.glob(f"{prefix}*.tmp"))
    except OSError:
        return
    for tmp in siblings:
        pid_text = tmp.name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and not _running(int(pid_text)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True
