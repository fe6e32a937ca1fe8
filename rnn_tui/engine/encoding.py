"""Text files to symbol counts and ids, in chunks, with vectorised NumPy: how a big corpus loads.

A file is read twice in chunks of CHUNK_BYTES, so memory stays a small multiple of a chunk
whatever the file's size: the first pass counts every symbol (a code point, or a byte in byte
mode) with `np.bincount`, the vocabulary follows from the counts (`choose_vocab`), the second pass
maps each chunk through a lookup table of all of Unicode (0x110000 int32 entries, 4.5 MB) and
hands the ids to a writer. An ASCII chunk (the common case) skips decoding: its bytes are its
code points. The text is checked to be UTF-8 on the way (an incremental decoder, so a character
split across two chunks is fine), a BOM at the start is dropped and CRLF becomes LF, as the
loader always did.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import AnyStr

import numpy as np

from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.errors import CorpusError

CHUNK_BYTES = 8 << 20  # 8 MB: big enough that per-chunk Python is noise, small against memory
UNICODE_SIZE = 0x110000
UNKNOWN = "\ufffd"  # the symbol rare characters become (U+FFFD REPLACEMENT CHARACTER)
SYMBOL_KINDS = ("chars", "bytes")


def utf8_need(b: int) -> int:
    """What byte `b` is in UTF-8 text: 0 an ASCII character, 1-3 the lead byte of a character with
    that many continuation bytes to come, -1 a continuation byte, -2 a byte no UTF-8 text holds."""
    if b < 0x80:
        return 0
    if b < 0xC0:
        return -1
    if b < 0xC2:
        return -2  # (an overlong encoding)
    return 1 if b < 0xE0 else 2 if b < 0xF0 else 3 if b < 0xF5 else -2


Progress = Callable[[int, int], None]  # (bytes done, bytes in all) over both passes


@dataclass(frozen=True)
class VocabPolicy:
    """How the symbols of a text become a vocabulary.

    `max_vocab` and `min_count` keep the frequent characters and map the rest to one unknown
    symbol (UNKNOWN); the defaults keep every character unless a text has more than MAX_VOCAB
    distinct ones, so any UTF-8 text trains and a text within the limit gets exactly
    `sorted(set(text))`. `byte_mode` models the UTF-8 bytes instead (at most 256 symbols).
    """

    max_vocab: int = MAX_VOCAB
    min_count: int = 1
    byte_mode: bool = False

    def __post_init__(self) -> None:
        for name, value, lo, hi in (
            ("max vocab", self.max_vocab, 2, MAX_VOCAB),
            ("min count", self.min_count, 1, 2**62),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise CorpusError(
                    f"{name} must be a whole number from {lo} to {hi} (got {value!r})"
                )

    @property
    def symbols(self) -> str:
        return "bytes" if self.byte_mode else "chars"

    def to_dict(self) -> dict:
        return {
            "max_vocab": self.max_vocab,
            "min_count": self.min_count,
            "byte_mode": self.byte_mode,
        }


@dataclass(frozen=True)
class VocabChoice:
    """The symbols kept (sorted code points or byte values), whether an unknown symbol stands for
    the rest, and what was dropped (distinct symbols, occurrences)."""

    codes: np.ndarray
    unknown: bool
    dropped_kinds: int
    dropped_count: int
    total: int

    def note(self) -> str:
        """One line for the user, or "" when nothing was dropped."""
        if not self.dropped_kinds:
            return ""
        share = 100 * self.dropped_count / max(self.total, 1)
        return (
            f"{self.dropped_kinds:,} rare characters ({self.dropped_count:,} occurrences, "
            f"{share:.3g} % of the text) are read as the unknown symbol {UNKNOWN}"
        )


def choose_vocab(counts: np.ndarray, policy: VocabPolicy) -> VocabChoice:
    """The kept symbols from per-symbol counts (indexed by code point or byte value).

    Characters seen fewer than `min_count` times, and beyond the `max_vocab - 1` most frequent
    (ties go to the lower code point, so the choice is deterministic), become UNKNOWN; a text's
    own U+FFFD joins them. Byte mode keeps every byte seen.
    """
    present = np.flatnonzero(counts)
    total = int(counts.sum())
    if policy.byte_mode:
        return VocabChoice(present, False, 0, 0, total)
    keep = present[counts[present] >= policy.min_count]
    if len(keep) == len(present) and len(keep) <= policy.max_vocab:
        return VocabChoice(present, False, 0, 0, total)
    # Some characters go: the unknown symbol takes one place, the text's own U+FFFD joins it.
    keep = keep[keep != ord(UNKNOWN)]
    if len(keep) > policy.max_vocab - 1:
        # by count, most first; a stable sort keeps code-point order among equal counts
        order = np.argsort(-counts[keep], kind="stable")
        keep = np.sort(keep[order[: policy.max_vocab - 1]])
    dropped = np.setdiff1d(present, keep, assume_unique=True)
    dropped_kinds = int(np.count_nonzero(dropped != ord(UNKNOWN)))
    dropped_count = int(
        counts[dropped].sum() - (counts[ord(UNKNOWN)] if ord(UNKNOWN) < len(counts) else 0)
    )
    codes = np.union1d(keep, [ord(UNKNOWN)])
    return VocabChoice(codes, True, dropped_kinds, dropped_count, total)


def lookup_table(choice: VocabChoice, byte_mode: bool) -> np.ndarray:
    """int32 id of every code point (or byte); -1 where a symbol has none (not seen when counted)."""
    size = 256 if byte_mode else UNICODE_SIZE
    fill = int(np.searchsorted(choice.codes, ord(UNKNOWN))) if choice.unknown else -1
    lut = np.full(size, fill, dtype=np.int32)
    lut[choice.codes] = np.arange(len(choice.codes), dtype=np.int32)
    return lut


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id."""
    return np.dtype(np.uint8) if vocab_size <= 256 else np.dtype(np.uint16)


# -- reading a file in chunks ----------------------------------------------------------------
@dataclass(frozen=True)
class FileStamp:
    """What says a file is the one we read: changed size or times mean changed content."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "ctime_ns": self.ctime_ns,
            "ino": self.ino,
        }


def _lf_newlines(
    piece: AnyStr, cr: AnyStr, lf: AnyStr, held_cr: bool, final: bool
) -> tuple[AnyStr, bool]:
    """CRLF as LF in a chunk (bytes or text), a CR held back from the previous chunk put in front;
    also whether this chunk's own last CR is held back for the next."""
    if held_cr:
        piece = cr + piece
    held_cr = not final and piece.endswith(cr)
    if held_cr:
        piece = piece[:-1]
    if cr in piece:  # (a one-byte search is far faster than looking for CRLF)
        piece = piece.replace(cr + lf, lf)
    return piece, held_cr


def iter_symbols(
    f, where: str, byte_mode: bool, on_bytes: Callable[[int], None] | None = None
) -> Iterator[bytes | np.ndarray]:
    """The file's symbols chunk by chunk: bytes (an ASCII chunk, whose bytes are its code points,
    or any chunk in byte mode) or uint32 code points. UTF-8 is checked in both modes; CorpusError
    names the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # file offset of the next chunk's first byte
    held_cr = False  # a chunk ended in CR: it waits to see whether LF follows
    first = True
    while True:
        data = f.read(CHUNK_BYTES)
        final = not data
        start = offset
        offset += len(data)
        if first:
            first = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
                start += len(codecs.BOM_UTF8)
        pending = decoder.getstate()[0]
        fast = data.isascii() and not pending
        if not fast:
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as e:
                raw = pending + data
                off = start - len(pending) + e.start
                bad = raw[e.start] if e.start < len(raw) else raw[-1]
                raise CorpusError(
                    f"{where} is not UTF-8 text (byte 0x{bad:02x} at offset {off})"
                ) from None
        piece: bytes | str
        if byte_mode or fast:
            piece, held_cr = _lf_newlines(data, b"\r", b"\n", held_cr, final)
        else:
            piece, held_cr = _lf_newlines(text, "\r", "\n", held_cr, final)
        if on_bytes is not None:
            on_bytes(len(data))
        if piece:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if final:
            return


def count_symbols(f, where: str, byte_mode: bool, on_bytes=None) -> np.ndarray:
    """int64 count of every code point (or byte) in the file."""
    counts = np.zeros(256 if byte_mode else UNICODE_SIZE, dtype=np.int64)
    for sym in iter_symbols(f, where, byte_mode, on_bytes):
        c = _byte_counts(sym) if isinstance(sym, bytes) else np.bincount(sym)
        counts[: len(c)] += c
    return counts


def _byte_counts(data: bytes) -> np.ndarray:
    """Counts of the 256 byte values: bincount over byte pairs (uint16), then the pairs' two
    halves summed. Half the elements to widen to intp: 1.8x faster than a bincount of the bytes."""
    even = len(data) - len(data) % 2
    pairs = np.bincount(np.frombuffer(data, dtype="<u2", count=even // 2), minlength=65536).reshape(
        256, 256
    )
    counts = pairs.sum(axis=0) + pairs.sum(
        axis=1
    )  # [high byte, low byte]: low is the first of a pair
    if even != len(data):
        counts[data[-1]] += 1
    return counts


def encode_symbols(
    f,
    where: str,
    lut: np.ndarray,
    dtype: np.dtype,
    write: Callable[[np.ndarray], None],
    byte_mode: bool,
    on_bytes=None,
) -> int:
    """Map the file's symbols through `lut` and `write` the ids chunk by chunk; the count written.

    A symbol without an id means the file changed since it was counted (CorpusError)."""
    small = lut[:256]
    # bytes to uint8 ids: bytes.translate, several times faster than a NumPy gather; a byte
    # without an id becomes 255, which no id can be then (a vocabulary of 256 has every byte)
    table = (
        np.where(small < 0, 255, small).astype(np.uint8).tobytes() if dtype == np.uint8 else None
    )
    missing = int((small < 0).any())
    n = 0
    for sym in iter_symbols(f, where, byte_mode, on_bytes):
        if isinstance(sym, bytes) and table is not None:
            translated = sym.translate(table)
            ids = np.frombuffer(translated, dtype=np.uint8)
            bad = missing and b"\xff" in translated
        else:
            ids = (small if isinstance(sym, bytes) else lut).take(
                np.frombuffer(sym, dtype=np.uint8) if isinstance(sym, bytes) else sym
            )
            bad = len(ids) and ids.min() < 0
        if bad:
            raise CorpusError(f"{where} changed while it was read; try again")
        write(ids.astype(dtype, copy=False))
        n += len(ids)
    return n


def encode_text_codes(codes: np.ndarray, policy: VocabPolicy) -> tuple[VocabChoice, np.ndarray]:
    """A text already in memory (its code points, or bytes in byte mode): the choice and its ids."""
    counts = np.bincount(codes, minlength=256 if policy.byte_mode else 0)
    choice = choose_vocab(counts, policy)
    lut = lookup_table(choice, policy.byte_mode)
    ids = lut.take(codes).astype(id_dtype(len(choice.codes)))
    return choice, ids
