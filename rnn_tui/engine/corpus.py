"""Text in, integer ids out: the vocabulary, a corpus (a built-in text, or a file read through
the ids cache) and the BPTT batches."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine import corpus_cache
from rnn_tui.engine.builtin_corpora import BUILTIN_CORPORA, builtin_text
from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.encoding import (
    SYMBOL_KINDS,
    UNKNOWN,
    FileStamp,
    Progress,
    VocabChoice,
    VocabPolicy,
    choose_vocab,
    count_symbols,
    encode_symbols,
    encode_text_codes,
    id_dtype,
    iter_symbols,
    lookup_table,
)
from rnn_tui.engine.errors import CorpusError

HEAD_CHARS = 200_000  # a big file's `Corpus.text` is its start (demo phrases, the prime)
CACHE_SPARE_BYTES = 64 << 20  # the cache leaves at least this much of the disk free


class Vocab:
    """The symbols a model knows, sorted by code point; a symbol's id is its index.

    Symbols are characters, or in byte mode the bytes of UTF-8 text (held as `chr(byte)`, so
    the order is the bytes' order). A vocabulary with `unknown` holds UNKNOWN (U+FFFD), which
    stands for every character not in it: encoding maps them there instead of dropping them.
    """

    __slots__ = ("chars", "unknown", "symbols", "_codes", "_index", "_unk")
    chars: tuple[str, ...]
    unknown: bool
    symbols: str
    _codes: np.ndarray
    _index: dict[str, int]
    _unk: int | None

    def __init__(
        self, chars: Iterable[str], *, unknown: bool = False, symbols: str = "chars"
    ) -> None:
        distinct = set(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in distinct):
            raise CorpusError("a vocabulary holds single characters only")
        unique = tuple(sorted(distinct))
        if len(unique) < 2:
            raise CorpusError("a vocabulary needs at least 2 distinct characters")
        if len(unique) > MAX_VOCAB:
            raise CorpusError(
                f"{len(unique)} distinct characters is more than the limit of {MAX_VOCAB}"
            )
        if symbols not in SYMBOL_KINDS:
            raise CorpusError(
                f"a vocabulary's symbols are {' or '.join(SYMBOL_KINDS)} (got {symbols!r})"
            )
        if symbols == "bytes" and (unknown or unique[-1] > "\xff"):
            raise CorpusError("a byte vocabulary holds the bytes 0-255 and no unknown symbol")
        if unknown and UNKNOWN not in distinct:
            raise CorpusError(f"a vocabulary with an unknown symbol must hold {UNKNOWN!r}")
        index = {c: i for i, c in enumerate(unique)}
        codes = np.array([ord(c) for c in unique], dtype=np.uint32)
        codes.flags.writeable = False  # (handed out by `codes`)
        for name, value in (
            ("chars", unique),
            ("unknown", bool(unknown)),
            ("symbols", symbols),
            ("_codes", codes),
            ("_index", index),
            ("_unk", index[UNKNOWN] if unknown else None),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Vocab is immutable")

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(set(text))

    @classmethod
    def from_codes(
        cls, codes: Iterable[int], unknown: bool = False, symbols: str = "chars"
    ) -> Vocab:
        return cls([chr(int(c)) for c in codes], unknown=unknown, symbols=symbols)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        return len(self.chars)

    @property
    def byte_mode(self) -> bool:
        return self.symbols == "bytes"

    @property
    def codes(self) -> np.ndarray:
        """Each symbol's code point in id order (in byte mode, its byte); read-only."""
        return self._codes

    def describe(self) -> str:
        """How the symbols were chosen, for a status line: "" for plain characters."""
        if self.byte_mode:
            return "UTF-8 bytes"
        return f"rare chars as {UNKNOWN}" if self.unknown else ""

    def __contains__(self, ch: object) -> bool:
        return ch in self._index

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab)
            and self.chars == other.chars
            and self.unknown == other.unknown
            and self.symbols == other.symbols
        )

    def __hash__(self) -> int:
        return hash((self.chars, self.unknown, self.symbols))

    def __repr__(self) -> str:
        extra = (", unknown=True" if self.unknown else "") + (
            ", symbols='bytes'" if self.byte_mode else ""
        )
        return f"Vocab({''.join(self.chars)!r}{extra})"

    def symbol_ids(self, symbols: str) -> list[int]:
        """The ids of a string of this vocabulary's own symbols (`chars[i]` for each id i): in
        byte mode a byte's symbol, chr(byte), not a character whose UTF-8 is to be encoded."""
        return [self._index[c] for c in symbols]

    def id(self, ch: str) -> int | None:
        """The id of a character; with an unknown symbol, any other character gets its id. In
        byte mode only an ASCII character is one symbol (text goes through `encode`)."""
        if self.byte_mode and ch >= "\x80":
            return None
        i = self._index.get(ch)
        return self._unk if i is None else i

    def symbols_of(self, ch: str) -> list[int]:
        """The ids a character is read as: its own, or in byte mode the UTF-8 bytes of a
        multi-byte character (those in the vocabulary); [] for a character outside it."""
        i = self.id(ch)
        if i is not None:
            return [i]
        return self.encode(ch).tolist() if self.byte_mode else []

    def encode(self, text: str, unknown: str = "skip") -> np.ndarray:
        """int32 ids of `text` (its UTF-8 bytes in byte mode).

        Characters outside the vocabulary become the unknown symbol if there is one, else are
        dropped ("skip") or refused ("error").
        """
        if unknown not in ("skip", "error"):
            raise ValueError(f"unknown must be 'skip' or 'error' (got {unknown!r})")
        if self.byte_mode:
            codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8).astype(
                np.uint32
            )
        else:
            codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        known = ids < len(self._codes)
        known[known] = self._codes[ids[known]] == codes[known]
        if not known.all():
            if self._unk is not None:
                ids[~known] = self._unk
            elif unknown == "error":
                pos = int(np.argmin(known))
                what = (
                    f"byte 0x{int(codes[pos]):02x}"
                    if self.byte_mode
                    else f"character {text[pos]!r}"
                )
                raise CorpusError(f"{what} at position {pos} is not in the vocabulary")
            else:
                ids = ids[known]
        return ids.astype(np.int32)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text of `ids`; in byte mode, bytes that are not UTF-8 become U+FFFD."""
        flat = np.asarray(ids).ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= len(self.chars)):
            raise IndexError(f"character ids must be in [0, {len(self.chars)})")
        if self.byte_mode:
            return (
                self._codes[flat.astype(np.intp)]
                .astype(np.uint8)
                .tobytes()
                .decode("utf-8", "replace")
            )
        if flat.size > 1000:  # vectorised: code points through UTF-32
            return (
                self._codes[flat.astype(np.intp)]
                .astype("<u4")
                .tobytes()
                .decode("utf-32-le", "surrogatepass")
            )
        return "".join([self.chars[i] for i in flat.tolist()])


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


@dataclass(frozen=True, eq=False)
class Corpus:
    """A text, its vocabulary and the whole text as read-only ids (the smallest unsigned dtype).

    `text` is the whole text for a built-in corpus and a small file; for a file of more than
    HEAD_CHARS symbols it is the start only (the ids, memory-mapped from `cache`, hold it all).
    `note` says what the user should know about how it was read (rare characters mapped, no cache).
    """

    name: str
    text: str
    vocab: Vocab
    ids: np.ndarray
    cache: str | None = None
    note: str = ""

    @property
    def size(self) -> int:
        """Symbols in the whole corpus (characters, or bytes in byte mode)."""
        return len(self.ids)

    def split(self, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """Train ids and validation ids (the last `val_fraction`, at least 2 ids each).

        `val_fraction == 0` gives an empty validation split. A corpus of fewer than 4 ids cannot
        give 2 to each side, so both sides are the whole corpus (validation equals training).
        """
        n = len(self.ids)
        if val_fraction <= 0:
            return self.ids, self.ids[:0]
        if n < 4:
            return self.ids, self.ids
        n_val = min(max(round(n * val_fraction), 2), n - 2)
        return self.ids[: n - n_val], self.ids[n - n_val :]


def make_corpus(name: str, text: str, policy: VocabPolicy | None = None) -> Corpus:
    """A corpus of text already in memory (its vocabulary and ids are derived from it)."""
    policy = policy or VocabPolicy()
    if policy.byte_mode:
        codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    else:
        codes = _code_points(text)
    choice, ids = encode_text_codes(codes, policy)
    vocab = Vocab.from_codes(choice.codes, choice.unknown, policy.symbols)
    ids.flags.writeable = False
    return Corpus(name, text, vocab, ids, note=choice.note())


def policy_for(vocab: Vocab) -> VocabPolicy:
    """The policy that gives `vocab` again from the text it was made from (to resume a run):
    the same symbols, and a vocabulary of its size when rare characters were mapped away (the
    most frequent characters are the kept ones, whichever of the two limits chose them)."""
    return VocabPolicy(
        max_vocab=len(vocab) if vocab.unknown else MAX_VOCAB, byte_mode=vocab.byte_mode
    )


def load_corpus(
    name_or_path: str | os.PathLike,
    policy: VocabPolicy | None = None,
    *,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> Corpus:
    """A built-in corpus by name, else a UTF-8 text file by path; CorpusError says what is wrong.

    A file's ids go to (or come from) the cache (`corpus_cache`) and are memory-mapped; without
    a writable cache they are kept in memory. `progress(done, total)` follows the reading.
    """
    name = os.fspath(name_or_path)
    policy = policy or VocabPolicy()
    if name in BUILTIN_CORPORA:
        return make_corpus(name, builtin_text(name), policy)
    return _load_file(name, policy, progress, use_cache)


def read_text(name_or_path: str | os.PathLike, max_chars: int, what: str = "text file") -> str:
    """The first `max_chars` characters of a built-in corpus or a UTF-8 file, read as a corpus
    file is (UTF-8 checked, a BOM dropped, CRLF as LF) but with none of a corpus's checks: a text
    to score learns nothing from it, so one character repeated, or a single one, is a text.
    `what` names the file in an error ("--text file")."""
    name = os.fspath(name_or_path)
    if name in BUILTIN_CORPORA:
        return builtin_text(name)[:max_chars]
    where = f"{what} {name!r}"
    f = _open_corpus_file(name, where)
    try:
        with f:
            return _first_chars(iter_symbols(f, where, byte_mode=False), max_chars)
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None


def _first_chars(chunks: Iterable[bytes | np.ndarray], n: int) -> str:
    """The first `n` characters of `iter_symbols`' chunks (ASCII bytes or code points)."""
    pieces, have = [], 0
    for chunk in chunks:
        if isinstance(chunk, bytes):
            piece = chunk[: n - have].decode("ascii")
        else:
            piece = chunk[: n - have].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
        pieces.append(piece)
        have += len(piece)
        if have >= n:
            break
    return "".join(pieces)


def _open_corpus_file(path: str, where: str):
    """`path` opened for reading, or CorpusError naming it as `where` says ("corpus file 'x'"):
    missing, a directory, not a regular file (opening a FIFO would wait for a writer), unreadable."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        names = ", ".join(BUILTIN_CORPORA)
        raise CorpusError(f"no {where}; the built-in corpora are {names}") from None
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CorpusError(f"{where} is a directory; give a text file")
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{where} is not a regular file")
    try:
        return open(path, "rb")
    except PermissionError:
        raise CorpusError(f"cannot read {where}: permission denied") from None
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None


def _load_file(
    path: str, policy: VocabPolicy, progress: Progress | None, use_cache: bool
) -> Corpus:
    where = f"corpus file {path!r}"
    f = _open_corpus_file(path, where)
    try:
        with f:
            return _read_corpus_file(f, path, where, policy, progress, use_cache)
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None


def _read_corpus_file(
    f, path: str, where: str, policy: VocabPolicy, progress, use_cache: bool
) -> Corpus:
    stamp = FileStamp.of(os.fstat(f.fileno()))
    source = corpus_cache.source_info(path, stamp, corpus_cache.sample_hash(f, stamp.size), policy)
    entry = corpus_cache.entry_path(path, policy)
    total_work, done = 2 * max(stamp.size, 1), 0

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total_work), total_work)

    cached = corpus_cache.open_entry(entry, source) if use_cache else None
    notes = []
    if cached is not None:
        on_bytes(total_work)
        codes, unknown, ids, cache = cached.codes, cached.unknown, cached.ids, cached.path
        choice_note = VocabChoice(
            codes, unknown, cached.dropped_kinds, cached.dropped_count, cached.total
        ).note()
    else:
        counts = count_symbols(f, where, policy.byte_mode, on_bytes)
        _check_counts(counts, where, policy)
        choice = choose_vocab(counts, policy)
        codes, unknown, choice_note = choice.codes, choice.unknown, choice.note()
        f.seek(0)
        ids, cache, why = _encode_file(
            f, where, choice, policy, source, entry if use_cache else None, on_bytes
        )
        if why:
            notes.append(why)
        if FileStamp.of(os.stat(path)) != stamp or FileStamp.of(os.fstat(f.fileno())) != stamp:
            if cache:
                with contextlib.suppress(OSError):
                    os.unlink(cache)
            raise CorpusError(f"{where} changed while it was read; try again")
    vocab = Vocab.from_codes(codes, unknown, policy.symbols)
    if choice_note:
        notes.insert(0, choice_note)
    head = vocab.decode(ids[:HEAD_CHARS])
    return Corpus(path, head, vocab, ids, cache=cache, note="; ".join(notes))


def _check_counts(counts: np.ndarray, where: str, policy: VocabPolicy) -> None:
    present = np.flatnonzero(counts)
    if len(present) == 0:
        raise CorpusError(f"{where} is empty")
    if len(present) == 1:
        only = chr(int(present[0]))
        kind = "byte" if policy.byte_mode else "character"
        what = f"0x{int(present[0]):02x}" if policy.byte_mode else repr(only)
        raise CorpusError(
            f"{where} has only one distinct {kind} ({what}): the next {kind} is always the same, "
            "so there is nothing to learn"
        )


def _encode_file(
    f, where: str, choice: VocabChoice, policy: VocabPolicy, source: dict, entry, on_bytes
):
    """(ids, cache path or None, note): the ids written to the cache entry and memory-mapped,
    else (no cache wanted, or it cannot be written) kept in memory if they fit."""
    lut = lookup_table(choice, policy.byte_mode)
    dtype = id_dtype(len(choice.codes))
    length = choice.total
    need = length * dtype.itemsize
    why = ""
    if entry is not None:
        free = corpus_cache.free_bytes(entry.parent)
        if free < need + CACHE_SPARE_BYTES:
            free_text, need_text = corpus_cache.size_text(free), corpus_cache.size_text(need)
            why = f"no cache written: {free_text} free in {entry.parent}, {need_text} needed"
        else:
            try:
                with corpus_cache.EntryWriter(
                    entry,
                    source,
                    choice.codes,
                    choice.unknown,
                    length,
                    choice.dropped_kinds,
                    choice.dropped_count,
                    choice.total,
                ) as w:
                    encode_symbols(f, where, lut, dtype, w.write, policy.byte_mode, on_bytes)
                    w.commit()
                mapped = np.memmap(entry, dtype=w.dtype, mode="r", offset=w.offset, shape=(length,))
                return mapped, str(entry), ""
            except OSError as e:
                why = f"no cache written ({e.strerror or e}): the ids are kept in memory"
                f.seek(0)
    avail = corpus_cache.available_memory()
    if avail is not None and need > avail // 2:
        raise CorpusError(
            f"{where} needs {corpus_cache.size_text(need)} of memory for its ids, and {why or 'no cache is used'}; "
            f"free disk space in {corpus_cache.cache_dir()} (or set XDG_CACHE_HOME) to train from a cache"
        )
    ids = np.empty(length, dtype=dtype)
    pos = 0

    def put(chunk: np.ndarray) -> None:
        nonlocal pos
        if pos + len(chunk) > length:
            raise CorpusError(f"{where} changed while it was read; try again")
        ids[pos : pos + len(chunk)] = chunk
        pos += len(chunk)

    encode_symbols(f, where, lut, dtype, put, policy.byte_mode, on_bytes)
    if pos != length:
        raise CorpusError(f"{where} changed while it was read; try again")
    ids.flags.writeable = False
    return ids, None, why
