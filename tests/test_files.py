"""Atomic writes: the mode open() would give, and no temporary files left behind."""

import os
import subprocess
import sys

import pytest

from sklearn_bsq._files import write_atomically


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

    write_atomically(target, lambda f: f.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    assert target.read_bytes() == b"new"


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    target = tmp_path / "model.bin"
    live = tmp_path / f".model.bin.{os.getppid()}.abc.tmp"  # our parent runs
    live.write_bytes(b"in progress")
    write_atomically(target, lambda f: f.write(b"new"))
    assert live.exists()
