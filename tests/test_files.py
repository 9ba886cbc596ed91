"""Safe writes: the mode open() would give or the file already had, links and
devices respected, read-only files refused, no temporary files left behind and
none of a live writer's removed."""

import fcntl
import os
import subprocess
import sys
import time

import pytest

from sklearn_bsq._files import ORPHAN_AFTER_SECONDS, write_atomically


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_atomically(tmp_path / "model.bin", lambda f: f.write(b"new"))
        with open(tmp_path / "plain.bin", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    mode = (tmp_path / "model.bin").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.bin").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "model.bin").read_bytes() == b"new"


def test_rewriting_keeps_the_mode_and_refuses_read_only_files(tmp_path):
    private = tmp_path / "private.bin"
    private.write_bytes(b"old")
    private.chmod(0o600)
    write_atomically(private, lambda f: f.write(b"new"))
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_bytes() == b"new"
    frozen = tmp_path / "frozen.bin"
    frozen.write_bytes(b"keep")
    frozen.chmod(0o400)
    with pytest.raises(PermissionError, match="read-only"):
        write_atomically(frozen, lambda f: f.write(b"new"))
    assert frozen.read_bytes() == b"keep"
    with pytest.raises(IsADirectoryError, match="is a directory"):
        write_atomically(tmp_path, lambda f: f.write(b"new"))


def test_a_link_stays_a_link_and_a_pipe_is_written_into(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and target.read_bytes() == b"new"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_atomically(fifo, lambda f: f.write(b"through the pipe"))
    assert reader.communicate(timeout=10)[0] == b"through the pipe"
    assert fifo.exists() and not fifo.is_file()  # still the pipe


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    # A writer that dies with SIGKILL in the middle of its write.
    code = (
        "import os, signal, sys\n"
        "from sklearn_bsq._files import write_atomically\n"
        "def die(f):\n"
        "    f.write(b'partial')\n"
        "    f.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"write_atomically({str(target)!r}, die)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)
    assert result.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".model.bin.")  # the orphan
    assert target.read_bytes() == b"old"
    _age(tmp_path / left[0], 2 * ORPHAN_AFTER_SECONDS)

    write_atomically(target, lambda f: f.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    assert target.read_bytes() == b"new"


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    """A writer in another PID namespace (a container sharing the volume) has
    a PID that means nothing here: its lock, not its PID, keeps its file."""
    target = tmp_path / "model.bin"
    live = tmp_path / ".model.bin.999999999.abc.tmp"
    live.write_bytes(b"in progress")
    _age(live, 2 * ORPHAN_AFTER_SECONDS)
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        write_atomically(target, lambda f: f.write(b"new"))
    assert live.exists()
    young = tmp_path / ".model.bin.abc.tmp"  # created, not yet locked
    young.write_bytes(b"")
    write_atomically(target, lambda f: f.write(b"newer"))
    assert young.exists()


def test_a_missing_folder_is_named_without_the_temporary_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder .*missing to write m.bin"):
        write_atomically(tmp_path / "missing" / "m.bin", lambda f: f.write(b"x"))
    assert not (tmp_path / "missing").exists()
