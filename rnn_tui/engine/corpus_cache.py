"""The encoded ids of a corpus file, kept in the user's cache directory and memory-mapped.

One file per (corpus path, vocabulary policy), named by a hash of both, so a corpus that
changes replaces its old entry instead of piling up new ones:

    b"RNNTUIID" | header length (uint64 LE) | JSON header | padding | ids (raw, little-endian)

The ids start on a 4096-byte boundary. The header records the source file's stamp (size,
mtime, ctime, inode) and a hash of sampled blocks of it, the policy, the vocabulary (code
points), the ids' dtype, count and checksum (`Sum64`).

Why a stamp plus sampled blocks rather than a hash of the whole file: hashing 1 GB takes
seconds (it would cost more than the second open is allowed), while any write to the file
changes its mtime and ctime (the ctime cannot be set back by a user), and the samples catch a
rewrite within a coarse timestamp's tick (FAT, some network file systems).

Nothing in the file is trusted: on open every header field is checked against what it must be,
the file's size against the header, and the whole body against its checksum and the
vocabulary's size, chunk by chunk (so the check does not leave the file resident). A file
that fails any check is made again. Written atomically: a temp file, then a rename; no fsync,
as a torn file after a crash fails the checks and is made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import secrets
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.encoding import UNICODE_SIZE, UNKNOWN, FileStamp, VocabPolicy, id_dtype

MAGIC = b"RNNTUIID"
VERSION = 1
ALIGN = 4096
MAX_HEADER = 1 << 20  # a vocabulary of MAX_VOCAB code points needs under 100 KB
CHECK_CHUNK = 4 << 20  # bytes checked at a time (a multiple of the page size and of 8)
SAMPLE_BLOCKS, SAMPLE_BYTES, EDGE_BYTES = 16, 4096, 65536


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/rnn-tui, else ~/.cache/rnn-tui."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnn-tui"


def entry_path(source: str, policy: VocabPolicy) -> Path:
    real = os.path.realpath(source)
    key = hashlib.blake2b(
        json.dumps([real, policy.to_dict()]).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()
    return cache_dir() / f"{key}.ids"


def sample_hash(f, size: int) -> str:
    """blake2b of the first and last 64 KB and 16 blocks of 4 KB spread between them."""
    h = hashlib.blake2b(digest_size=16)
    spots = [0, max(size - EDGE_BYTES, 0)]
    spots += [size * (i + 1) // (SAMPLE_BLOCKS + 1) for i in range(SAMPLE_BLOCKS)]
    for pos in spots:
        f.seek(pos)
        h.update(f.read(EDGE_BYTES if pos in spots[:2] else SAMPLE_BYTES))
    f.seek(0)
    return h.hexdigest()


@dataclass(frozen=True)
class CachedIds:
    """A validated cache entry: the vocabulary's code points and the memory-mapped ids."""

    path: str
    codes: np.ndarray
    unknown: bool
    ids: np.ndarray
    dropped_kinds: int
    dropped_count: int
    total: int


def source_info(source: str, stamp: FileStamp, sample: str, policy: VocabPolicy) -> dict:
    return {
        "path": os.path.realpath(source),
        **stamp.to_dict(),
        "sample": sample,
        "policy": policy.to_dict(),
    }


def open_entry(path: Path, source: dict) -> CachedIds | None:
    """The entry at `path` if it is whole, intact and made from `source`; else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if len(head) != 16 or head[:8] != MAGIC:
                return None
            (n,) = struct.unpack("<Q", head[8:])
            if n > MAX_HEADER:
                return None
            header = json.loads(f.read(n).decode("utf-8"))
            checked = _check_header(header, source)
            if checked is None:
                return None
            codes, dtype, length = checked
            offset = _data_offset(n)
            if os.fstat(f.fileno()).st_size != offset + length * dtype.itemsize:
                return None  # truncated, or something appended
            if (
                _body_check(f, offset, dtype, length * dtype.itemsize, len(codes))
                != header["checksum"]
            ):
                return None
        ids = (
            np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(length,))
            if length
            else np.zeros(0, dtype)
        )
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, struct.error):
        return None
    return CachedIds(
        str(path),
        codes,
        header["unknown"],
        ids,
        header["dropped_kinds"],
        header["dropped_count"],
        header["total"],
    )


def map_entry(path: str, codes: list[int], length: int) -> np.ndarray:
    """The ids of an entry another process has just validated (the training process's corpus):
    its header must hold these `codes` and `length`, its size must fit; the body is not re-read
    (a tampered id still cannot leave the vocabulary's range unnoticed: indexing checks bounds).
    Raises ValueError if it does not match."""
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) != 16 or head[:8] != MAGIC:
            raise ValueError(f"{path} is not an ids cache file")
        (n,) = struct.unpack("<Q", head[8:])
        if n > MAX_HEADER:
            raise ValueError(f"{path} has a damaged header")
        header = json.loads(f.read(n).decode("utf-8"))
        size = os.fstat(f.fileno()).st_size
    dtype = id_dtype(len(codes)).newbyteorder("<")
    offset = _data_offset(n)
    if (
        not isinstance(header, dict)
        or header.get("codes") != codes
        or header.get("length") != length
        or size != offset + length * dtype.itemsize
    ):
        raise ValueError(f"{path} no longer holds this corpus")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(length,))


def _check_header(h: object, source: dict) -> tuple[np.ndarray, np.dtype, int] | None:
    if not isinstance(h, dict) or h.get("version") != VERSION or h.get("source") != source:
        return None
    codes = h.get("codes")
    if not isinstance(codes, list) or not 2 <= len(codes) <= MAX_VOCAB:
        return None
    if not all(type(c) is int and 0 <= c < UNICODE_SIZE for c in codes):
        return None
    arr = np.array(codes, dtype=np.int64)
    if (np.diff(arr) <= 0).any():
        return None
    unknown = h.get("unknown")
    if type(unknown) is not bool or (unknown and ord(UNKNOWN) not in codes):
        return None
    if source["policy"]["byte_mode"] and (unknown or arr[-1] > 255):
        return None
    for key in ("length", "dropped_kinds", "dropped_count", "total"):
        if type(h.get(key)) is not int or h[key] < 0:
            return None
    if h["length"] < 2:
        return None
    if h.get("dtype") != id_dtype(len(codes)).name or not isinstance(h.get("checksum"), str):
        return None
    return arr, id_dtype(len(codes)).newbyteorder("<"), h["length"]


def _data_offset(header_len: int) -> int:
    return -(-(16 + header_len) // ALIGN) * ALIGN


def _body_check(f, offset: int, dtype: np.dtype, nbytes: int, vocab_size: int) -> str | None:
    """The body's checksum (`Sum64`), or None if an id is out of the vocabulary's range.

    Read through a read-only mapping, chunk by chunk, each chunk's pages dropped from this
    process after use (madvise), so checking a 1 GB entry does not make it resident here."""
    if nbytes % dtype.itemsize:
        return None
    total = Sum64()
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if len(mm) < offset + nbytes:
            return None
        for start in range(offset, offset + nbytes, CHECK_CHUNK):
            end = min(start + CHECK_CHUNK, offset + nbytes)
            ids = np.frombuffer(
                mm, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start
            )
            bad = ids.max() >= vocab_size
            total.add_region(mm, start, end)
            del ids  # (the mapping cannot close while an array still uses it)
            if bad:
                return None
            if hasattr(mm, "madvise"):
                mm.madvise(mmap.MADV_DONTNEED, start, end - start)
    return total.hexdigest()


class Sum64:
    """The body's bytes as little-endian 64-bit words (the last padded with zeros), summed mod
    2^64: any change to one word changes it, a truncation is caught by the size, and it runs at
    memory speed (Adler-32 was 3-5x slower here, and the check runs on every open). It guards
    against damage, not against someone who rewrites the header too: the range check above is
    what keeps the ids safe to use."""

    def __init__(self) -> None:
        self.value = 0
        self.tail = b""  # bytes of a word not yet complete (a chunk's length is any number)

    def add_region(self, buf, start: int, end: int) -> None:
        """Bytes [start, end) of `buf`, word-aligned at `start` (no tail pending)."""
        n8 = (end - start) // 8
        words = np.frombuffer(buf, dtype="<u8", count=n8, offset=start)
        self.value = (self.value + int(words.sum(dtype=np.uint64))) & 0xFFFFFFFFFFFFFFFF
        del words
        self.tail = bytes(buf[start + 8 * n8 : end])

    def add(self, data: bytes | memoryview) -> None:
        data = self.tail + bytes(data)
        self.add_region(data, 0, len(data))

    def hexdigest(self) -> str:
        last = int.from_bytes(self.tail.ljust(8, b"\0"), "little") if self.tail else 0
        return f"{(self.value + last) & 0xFFFFFFFFFFFFFFFF:016x}"


class EntryWriter:
    """Writes an entry to a temp file beside it; `commit` renames it into place.

    Use as a context manager: leaving without commit (an error) removes the temp file."""

    def __init__(
        self,
        path: Path,
        source: dict,
        codes: np.ndarray,
        unknown: bool,
        length: int,
        dropped_kinds: int,
        dropped_count: int,
        total: int,
    ) -> None:
        self.path = path
        self.dtype = id_dtype(len(codes)).newbyteorder("<")
        self.header = {
            "version": VERSION,
            "source": source,
            "codes": [int(c) for c in codes],
            "unknown": bool(unknown),
            "dtype": self.dtype.name,
            "length": int(length),
            "dropped_kinds": int(dropped_kinds),
            "dropped_count": int(dropped_count),
            "total": int(total),
            "checksum": "0" * 16,
        }
        self.length = length
        self.written = 0
        self.sum = Sum64()
        self.tmp: Path | None = None
        self.f: BinaryIO | None = None

    def __enter__(self) -> EntryWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        # 0600: a cache of someone's mail archive is theirs alone
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.f = f = os.fdopen(fd, "wb")
        self.offset = _data_offset(len(self._header_bytes()))
        f.seek(self.offset)
        return self

    def _header_bytes(self) -> bytes:
        return json.dumps(self.header, ensure_ascii=True).encode(
            "ascii"
        )  # fixed width: 16 hex digits

    def write(self, ids: np.ndarray) -> None:
        assert self.f is not None  # (inside the with block)
        data = np.ascontiguousarray(ids, dtype=self.dtype)
        self.sum.add(data.data.cast("B"))
        self.f.write(data.data.cast("B"))
        self.written += len(data)

    def commit(self) -> None:
        if self.written != self.length:
            raise OSError(f"wrote {self.written} ids, expected {self.length}")
        self.header["checksum"] = self.sum.hexdigest()
        body = self._header_bytes()
        assert self.f is not None and self.tmp is not None  # (inside the with block)
        self.f.seek(0)
        self.f.write(MAGIC + struct.pack("<Q", len(body)) + body)
        self.f.close()
        os.replace(self.tmp, self.path)
        self.tmp = None

    def __exit__(self, *exc) -> None:
        if self.f is not None and not self.f.closed:
            self.f.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)


def free_bytes(directory: Path) -> int:
    """Free space where the cache goes (its nearest existing ancestor); 0 if unknown."""
    d = directory
    while not d.exists() and d != d.parent:
        d = d.parent
    try:
        return shutil.disk_usage(d).free
    except OSError:
        return 0


def size_text(n: int) -> str:
    """A number of bytes as a person reads it in a message: 1.23 GB, 45.6 MB, 789 bytes."""
    if n >= 1e9:
        return f"{n / 1e9:.3g} GB"
    return f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n:,} bytes"


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (bytes), or None where there is no such file."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
