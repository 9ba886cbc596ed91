"""Safe file writes for ``save``, the exporters and the command line (standard
library only)."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def is_file_object(target, caller: str, mode: str) -> bool:
    """True for a binary file object, False for a path; a ``TypeError`` naming
    the fix for a text stream or anything else."""
    if isinstance(target, io.TextIOBase):
        raise TypeError(
            f"{caller} {'reads' if mode == 'rb' else 'writes'} bytes; open the "
            f"file in binary mode ({mode!r}), not text mode."
        )
    if hasattr(target, "read" if mode == "rb" else "write"):
        return True
    if isinstance(target, (str, bytes, os.PathLike)):
        return False
    raise TypeError(
        f"{caller} takes a path or a binary file object (opened with {mode!r}), "
        f"got {type(target).__name__}."
    )


def write_atomically(
    path,
    write: Callable[[BinaryIO], None],
    check: Callable[[str | BinaryIO], None] | None = None,
) -> None:
    """Write ``path`` through ``write(file)`` so that nothing is lost or torn.

    ``check``, when given, reads what was written (the temporary file's path,
    or for a device or a pipe a binary file of it) before it takes the place of
    what was there; an exception from it leaves the path as it was.

    A regular file is written into a temporary file beside it, synced, and
    renamed into place: readers see the old file or the new one. What is
    already there is respected:

    - a symbolic link stays a link; the file it points to is written;
    - a device or a pipe (``/dev/stdout``) is written into directly;
    - an existing file keeps its permission bits, and a read-only one (no
      write bit for its owner) is refused with ``PermissionError``;
    - a new file gets the mode ``open()`` would give it (``0o666`` less the
      umask), not the ``0o600`` of a temporary file.

    A writer holds a lock on its temporary file while it writes; a temporary
    file whose lock is free (its writer was killed) is removed by the next
    write to the same path, in whatever process or container that runs.
    """
    mode = _mode_to_keep(Path(path))
    if mode is None:  # a device or a pipe: no rename into it
        if check is not None:  # checked whole before any of it goes out
            write = checked_in_memory(write, check)
        with open(path, "wb") as f:
            write(f)
        return
    path = Path(os.path.realpath(path))  # through links: the link stays
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"there is no folder {path.parent} to write {path.name} into; "
            "create it first."
        )
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the writer ends, however
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if check is not None:
                check(tmp)
            os.replace(tmp, path)  # while locked: the file is never an orphan
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checked_in_memory(
    write: Callable[[BinaryIO], None], check: Callable[[str | BinaryIO], None]
) -> Callable[[BinaryIO], None]:
    """A writer of what ``write`` writes, built in memory and checked now."""
    buffer = io.BytesIO()
    write(buffer)
    buffer.seek(0)
    check(buffer)
    return lambda f: f.write(buffer.getvalue())


def _mode_to_keep(path: Path) -> int | None:
    """The permission bits of the file to write: those of the file there, or
    what ``open()`` would give a new one; None for a device or a pipe."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return 0o666 & ~_umask()
    if not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{path} is a directory; give a file name.")
        return None
    mode = stat.S_IMODE(info.st_mode)
    if not mode & stat.S_IWUSR:
        raise PermissionError(
            f"{path} is read-only (mode {mode:04o}); remove it or make it "
            "writable first, or write to another file."
        )
    return mode


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


# A temporary file exists for a moment before its writer locks it: younger
# files are left alone whatever their lock says.
ORPHAN_AFTER_SECONDS = 10.0


def _remove_orphans(path: Path) -> None:
    """Remove ``.NAME.*.tmp`` files beside ``path`` that no writer holds."""
    try:
        siblings = list(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return
    now = time.time()
    for tmp in siblings:
        with contextlib.suppress(OSError):
            if now - tmp.lstat().st_mtime < ORPHAN_AFTER_SECONDS:
                continue
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: held
                tmp.unlink(missing_ok=True)
            finally:
                os.close(fd)
