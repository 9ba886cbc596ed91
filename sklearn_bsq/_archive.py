"""Reading a model file's ``.npz`` archive without trusting it.

Every member's npy header (dtype and shape) is read and checked before its data:
the loader compares the declared shapes with what the metadata implies and only
then reads arrays, so a file cannot make ``load`` allocate memory the model it
describes does not need. No pickles, no encrypted or oddly compressed members,
no members other than the ones the format names.
"""

from __future__ import annotations

import io
import os
import stat
import tokenize
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

METADATA = "__metadata__"
MAX_METADATA_BYTES = 1 << 20  # JSON of a model with 65,536 named features fits
# A model file has 6 fixed members, a few per network layer and 4 for the bit
# allocation; far more means a hostile file (each member's header is read).
MAX_MEMBERS = 1024


class Archive:
    """The members of an open ``.npz`` model file, read on demand.

    ``header(key)`` gives ``(shape, dtype)`` from the npy header alone; ``read(key)``
    the array. Use it as a context manager.
    """

    def __init__(self, source, allowed) -> None:
        if hasattr(source, "read"):  # a binary file object: from here to its end
            data = source.read()
            self._size = len(data)
            self._file = io.BytesIO(data)
        else:
            path = Path(source)
            mode = os.stat(path).st_mode  # FileNotFoundError as for open()
            if not stat.S_ISREG(mode):
                # A FIFO or a device would block or never end.
                raise ValueError(f"{path} is not a regular file.")
            self._size = os.stat(path).st_size
            self._file = open(path, "rb")  # closed by close()
        try:
            self._zip = zipfile.ZipFile(self._file)
            self._members = self._check_members(allowed)
            self._headers = {key: self._read_header(key) for key in self._members}
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._file.close()

    def keys(self) -> list[str]:
        return list(self._members)

    def _check_members(self, allowed) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{len(infos)} members; a model file has far fewer.")
        members = {}
        for info in infos:
            key = info.filename.removesuffix(".npy")
            if key in members:
                raise ValueError(f"member {info.filename!r} appears twice.")
            if info.flag_bits & 0x1:
                raise ValueError(f"member {info.filename!r} is encrypted.")
            if info.compress_type != zipfile.ZIP_STORED:
                # save never compresses: a compressed member could inflate to
                # far more memory than the file takes
                raise ValueError(
                    f"member {info.filename!r} is compressed (method "
                    f"{info.compress_type}); model files are stored uncompressed."
                )
            end = info.header_offset + info.compress_size
            if info.file_size != info.compress_size or end > self._size:
                raise ValueError(
                    f"member {info.filename!r} declares {info.file_size} bytes, "
                    "more than the file holds."
                )
            members[key] = info
        if METADATA not in members:
            raise ValueError(f"no {METADATA} entry: this is not a sklearn_bsq file.")
        unexpected = [
            info.filename
            for key, info in members.items()
            if key == info.filename or not allowed(key)
        ]
        if unexpected:
            raise ValueError(f"unexpected members {unexpected}.")
        return members

    def _read_header(self, key: str) -> tuple[tuple[int, ...], np.dtype, int]:
        info = self._members[key]
        with self._zip.open(info) as stream:
            try:
                version = npy_format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
                else:
                    raise ValueError(f"npy version {version}")
            except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as exc:
                # numpy parses the header's text with tokenize and literal_eval
                raise ValueError(
                    f"member {key!r} has a damaged npy header ({exc})."
                ) from exc
            offset = stream.tell()
        if dtype.hasobject:
            raise ValueError(
                f"member {key!r} holds Python objects; model files hold numbers "
                "only and are read with allow_pickle=False."
            )
        if fortran:
            raise ValueError(f"member {key!r} is a Fortran-order array.")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise ValueError(
                f"member {key!r} declares {nbytes} bytes of data but holds "
                f"{info.file_size - offset}."
            )
        if key == METADATA and nbytes > MAX_METADATA_BYTES:
            raise ValueError(f"the metadata is larger than {MAX_METADATA_BYTES} bytes.")
        return tuple(shape), dtype, offset

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of member ``key``, from its header (KeyError if absent)."""
        shape, dtype, _ = self._headers[key]
        return shape, dtype

    def read(self, key: str) -> np.ndarray:
        """The array of member ``key`` (its CRC is checked at the end)."""
        shape, dtype, offset = self._headers[key]
        array = np.empty(shape, dtype=dtype)
        with self._zip.open(self._members[key]) as stream:
            stream.read(offset)
            view = memoryview(array.reshape(-1).view(np.uint8))
            if stream.readinto(view) != array.nbytes or stream.read(1):
                raise ValueError(f"member {key!r} ends early or late.")
        return array
