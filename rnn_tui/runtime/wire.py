"""Messages between the app and its training process, over a pipe. No Textual, no pickle.

A message is one frame: two little-endian uint32 lengths (header, body), a JSON header
`{"kind": str, "meta": {...}, "arrays": [[name, dtype, shape], ...]}` and the arrays' raw bytes
one after another. Only a few plain dtypes are accepted, and every size is checked against the
body before an array is made (a view of the body, not a copy).
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping

import numpy as np

_LENGTHS = struct.Struct("<II")
DTYPES = ("<f4", "<f8", "<i4", "<i8", "|u1")
MAX_HEADER = 1 << 24


class WireError(RuntimeError):
    """A frame that does not parse: a bug or a dead peer, never the user's input."""


def encode(
    kind: str, meta: Mapping | None = None, arrays: Mapping[str, np.ndarray] | None = None
) -> tuple[bytes | memoryview, ...]:
    """A message as the buffers of one frame: lengths and header, then each array's own memory
    (no copy of a contiguous array: a large corpus goes out as it is)."""
    specs, blobs = [], []
    for name, value in (arrays or {}).items():
        a = np.asarray(value)
        if a.dtype.str not in DTYPES:
            raise WireError(f"array {name!r} has dtype {a.dtype.str}, not one of {DTYPES}")
        specs.append([name, a.dtype.str, list(a.shape)])
        blobs.append(np.ascontiguousarray(a).reshape(-1).data.cast("B"))
    header = json.dumps({"kind": kind, "meta": dict(meta or {}), "arrays": specs}).encode()
    return (_LENGTHS.pack(len(header), sum(b.nbytes for b in blobs)) + header, *blobs)


def decode(header: bytes, body: bytes) -> tuple[str, dict, dict[str, np.ndarray]]:
    """(kind, meta, arrays); the arrays are read-only views of `body`."""
    try:
        h = json.loads(header)
        kind, meta, specs = h["kind"], h["meta"], h["arrays"]
    except (ValueError, KeyError, TypeError) as e:
        raise WireError(f"bad frame header: {e}") from None
    arrays, offset = {}, 0
    for name, dtype, shape in specs:
        if dtype not in DTYPES or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError(f"bad array spec for {name!r}: {dtype} {shape}")
        count = math.prod(shape)
        size = count * np.dtype(dtype).itemsize
        if offset + size > len(body):
            raise WireError(f"array {name!r} runs past the end of its frame")
        arrays[name] = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(
            tuple(shape)
        )
        offset += size
    return kind, meta, arrays


def write(fd: int, message: tuple[bytes | memoryview, ...]) -> None:
    for buf in message:
        view = memoryview(buf)
        while view:
            view = view[os.write(fd, view) :]


def read(fd: int) -> tuple[str, dict, dict[str, np.ndarray]] | None:
    """The next message from a raw file descriptor, or None at the end of the stream."""
    lengths = _read_exactly(fd, _LENGTHS.size)
    if lengths is None:
        return None
    n_header, n_body = _LENGTHS.unpack(lengths)
    if n_header > MAX_HEADER:
        raise WireError(f"frame header of {n_header} bytes")
    header = _read_exactly(fd, n_header)
    body = _read_exactly(fd, n_body)
    if header is None or body is None:
        raise WireError("the stream ended inside a frame")
    return decode(header, body)


def _read_exactly(fd: int, n: int) -> bytes | None:
    """n bytes, or None if the stream ends before the first one."""
    if n == 0:
        return b""
    buf, got = bytearray(n), 0
    while got < n:
        chunk = os.read(fd, n - got)  # (os.read, not readv: pipes on Windows too)
        if not chunk:
            if got == 0:
                return None
            raise WireError("the stream ended inside a frame")
        buf[got : got + len(chunk)] = chunk
        got += len(chunk)
    return bytes(buf)
