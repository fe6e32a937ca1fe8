"""Text in, integer ids out: the vocabulary, the built-in corpora and the BPTT batches."""

from __future__ import annotations

import ast
import codecs
import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import inspect
import io
import os
import pkgutil
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.errors import CorpusError

# Files above this size are refused before a single byte is read ("corpus file 'x' is 2.1 GB,
# more than the 100 MB limit"): the text, its code points and its ids all live in memory.
MAX_CORPUS_BYTES = 100_000_000
STDLIB_MAX_CHARS = 1_000_000  # the `stdlib` corpus stops at the last whole docstring under this

BUILTIN_CORPORA: dict[str, str] = {
    "abcde": "the lesson: 'abcde' repeated 200 times, five letters to learn in order",
    "alphabet": "'abcdefghijklmnopqrstuvwxyz ' repeated 100 times",
    "zen": "The Zen of Python (PEP 20), from the standard library's `this` module",
    "stdlib": "docstrings of the standard-library modules and their submodules, gathered at run time (about 1 MB)",
}

# Modules that open windows or browsers, print, touch the terminal, write caches or are tests.
_STDLIB_SKIP = frozenset({
    "antigravity", "distutils", "ensurepip", "idlelib", "lib2to3", "readline", "rlcompleter",
    "test", "this", "tkinter", "turtle", "turtledemo",
})
_STDLIB_SKIP_SUB = frozenset({"test", "tests", "idle_test"})  # test packages inside packages


class Vocab:
    """The characters a model knows, sorted by code point; a character's id is its index."""

    __slots__ = ("chars", "_codes", "_index")
    chars: tuple[str, ...]
    _codes: np.ndarray
    _index: dict[str, int]

    def __init__(self, chars: Iterable[str]) -> None:
        distinct = set(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in distinct):
            raise CorpusError("a vocabulary holds single characters only")
        unique = tuple(sorted(distinct))
        if len(unique) < 2:
            raise CorpusError("a vocabulary needs at least 2 distinct characters")
        if len(unique) > MAX_VOCAB:
            raise CorpusError(f"{len(unique)} distinct characters is more than the limit of {MAX_VOCAB}")
        object.__setattr__(self, "chars", unique)
        object.__setattr__(self, "_codes", np.array([ord(c) for c in unique], dtype=np.uint32))
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(unique)})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Vocab is immutable")

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"Vocab({''.join(self.chars)!r})"

    def id(self, ch: str) -> int | None:
        return self._index.get(ch)

    def encode(self, text: str, unknown: str = "skip") -> np.ndarray:
        """int32 ids of `text`; unknown characters are dropped ("skip") or refused ("error")."""
        if unknown not in ("skip", "error"):
            raise ValueError(f"unknown must be 'skip' or 'error' (got {unknown!r})")
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        known = ids < len(self._codes)
        known[known] = self._codes[ids[known]] == codes[known]
        if not known.all():
            if unknown == "error":
                pos = int(np.argmin(known))
                raise CorpusError(f"character {text[pos]!r} at position {pos} is not in the vocabulary")
            ids = ids[known]
        return ids.astype(np.int32)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        flat = np.asarray(ids, dtype=np.int64).ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= len(self.chars)):
            raise IndexError(f"character ids must be in [0, {len(self.chars)})")
        return "".join([self.chars[i] for i in flat.tolist()])


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass(frozen=True, eq=False)
class Corpus:
    """A text, its vocabulary and the whole text as read-only int32 ids."""

    name: str
    text: str
    vocab: Vocab
    ids: np.ndarray

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


def make_corpus(name: str, text: str) -> Corpus:
    """A corpus of text already in memory (its vocabulary and ids are derived from it)."""
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    ids.flags.writeable = False
    return Corpus(name, text, vocab, ids)


def load_corpus(name_or_path: str | os.PathLike) -> Corpus:
    """A built-in corpus by name, else a UTF-8 text file by path; CorpusError says what is wrong."""
    name = os.fspath(name_or_path)
    if name in BUILTIN_CORPORA:
        return make_corpus(name, _builtin_text(name))
    return make_corpus(name, _read_text_file(name))


def _read_text_file(path: str) -> str:
    where = f"corpus file {path!r}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        names = ", ".join(BUILTIN_CORPORA)
        raise CorpusError(f"no corpus file {path!r}; the built-in corpora are {names}") from None
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CorpusError(f"{where} is a directory; give a text file")
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{where} is not a regular file")
    if st.st_size > MAX_CORPUS_BYTES:
        raise CorpusError(f"{where} is {_size(st.st_size)}, more than the {_size(MAX_CORPUS_BYTES)} limit")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CORPUS_BYTES + 1)
    except PermissionError:
        raise CorpusError(f"cannot read {where}: permission denied") from None
    except OSError as e:
        raise CorpusError(f"cannot read {where}: {e.strerror or e}") from None
    if len(data) > MAX_CORPUS_BYTES:  # it grew after the stat
        raise CorpusError(f"{where} is more than the {_size(MAX_CORPUS_BYTES)} limit")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = skip + e.start
        raise CorpusError(f"{where} is not UTF-8 text (byte 0x{data[off]:02x} at offset {off})") from None
    text = text.replace("\r\n", "\n")
    if not text:
        raise CorpusError(f"{where} is empty")
    distinct = set(text)
    if len(distinct) == 1:
        raise CorpusError(
            f"{where} has only one distinct character ({text[0]!r}): the next character is "
            "always the same, so there is nothing to learn"
        )
    if len(distinct) > MAX_VOCAB:
        raise CorpusError(
            f"{where} uses {len(distinct)} distinct characters, more than the limit of {MAX_VOCAB}"
        )
    return text


def _size(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.3g} GB"
    return f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n:,} bytes"


def _builtin_text(name: str) -> str:
    if name == "abcde":
        return "abcde" * 200
    if name == "alphabet":
        return "abcdefghijklmnopqrstuvwxyz " * 100
    if name == "zen":
        return _zen_text()
    return _stdlib_docstrings()


@functools.lru_cache(maxsize=1)
def _zen_text() -> str:
    """PEP 20 decoded from `this.s` with rot13 (`this.d`), without running `this` (it prints)."""
    scrambled = None
    if "this" in sys.modules:
        scrambled = sys.modules["this"].s
    else:
        spec = importlib.util.find_spec("this")
        loader = spec.loader if spec else None
        source = loader.get_source("this") if isinstance(loader, importlib.abc.InspectLoader) else None
        for node in ast.parse(source or "").body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "s" for t in node.targets):
                scrambled = ast.literal_eval(node.value)
        if scrambled is None:  # no source shipped: import it, swallowing what it prints
            with contextlib.redirect_stdout(io.StringIO()):
                scrambled = importlib.import_module("this").s
    return codecs.decode(scrambled, "rot13")


@functools.lru_cache(maxsize=1)
def _stdlib_docstrings() -> str:
    """Module, class, function and method docstrings of the standard library's modules.

    Top-level modules in sorted name order, each followed by its submodules (depth first, in
    sorted order; private ones and test packages left out); members in sorted name order, each
    docstring once; only members defined in the module itself. Stops at STDLIB_MAX_CHARS.
    Deterministic for one Python installation.
    """
    pieces: list[str] = []
    seen: set[str] = set()
    total = 0

    def add(doc: object) -> bool:
        nonlocal total
        if not isinstance(doc, str):
            return True
        doc = inspect.cleandoc(doc).strip()
        if not doc or doc in seen:
            return True
        if total + len(doc) + 2 > STDLIB_MAX_CHARS:
            return False
        seen.add(doc)
        pieces.append(doc)
        total += len(doc) + 2
        return True

    names = [n for n in sorted(sys.stdlib_module_names)
             if not n.startswith(("_", "xx")) and n not in _STDLIB_SKIP]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname, module in _stdlib_modules(names):
            if not all(add(doc) for doc in _module_docs(module, modname)):
                break
    return "\n\n".join(pieces)


def _stdlib_modules(names: Iterable[str]) -> Iterator[tuple[str, object]]:
    """(name, module) for each name and, for packages, their public submodules, depth first.

    Imports swallow what they print; a module that cannot be imported here (e.g. Windows only)
    is left out with its submodules.
    """
    quiet = io.StringIO()
    for modname in names:
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                module = importlib.import_module(modname)
        except Exception:
            continue
        yield modname, module
        path = getattr(module, "__path__", None)
        if path:
            subs = sorted(info.name for info in pkgutil.iter_modules(path)
                          if not info.name.startswith("_") and info.name not in _STDLIB_SKIP_SUB)
            yield from _stdlib_modules(f"{modname}.{sub}" for sub in subs)


def _module_docs(module: object, modname: str) -> Iterator[object]:
    yield module.__doc__
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != modname:
            continue
        if inspect.isclass(obj):
            yield obj.__doc__
            for mname, member in sorted(vars(obj).items()):
                if not mname.startswith("_") and inspect.isroutine(member):
                    yield getattr(member, "__doc__", None)
        elif inspect.isroutine(obj):
            yield obj.__doc__


class BatchStream:
    """Truncated-BPTT minibatches: `batch` streams read the ids cyclically, `seq_len` a chunk.

    With M = len(ids) - 1 transitions (ids[p], ids[p + 1]), stream b starts at transition
    b * M // batch; each `next()` returns the following `seq_len` transitions of every stream,
    so consecutive chunks are contiguous and the hidden state can be carried across them.
    Works for any M >= 1, even when M < batch or M < seq_len (positions wrap around).
    """

    def __init__(self, ids: np.ndarray, batch: int, seq_len: int) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        if ids.ndim != 1 or len(ids) < 2:
            raise CorpusError("training needs at least 2 characters (one transition)")
        if batch < 1 or seq_len < 1:
            raise ValueError(f"batch and seq_len must be >= 1 (got {batch}, {seq_len})")
        self.batch, self.seq_len = batch, seq_len
        self.transitions = len(ids) - 1
        self._src, self._dst = ids[:-1], ids[1:]
        self._starts = np.arange(batch, dtype=np.int64) * self.transitions // batch
        self._pos = np.empty((seq_len, batch), dtype=np.int64)  # transition index per (t, b)
        self.seek(0)

    def seek(self, chunk: int) -> None:
        """Go to where the stream is after `chunk` calls to next() (e.g. the step of a resume)."""
        first = (self._starts + chunk * self.seq_len) % self.transitions
        np.remainder(first[None, :] + np.arange(self.seq_len)[:, None], self.transitions, out=self._pos)
        self.chunks = chunk  # how many chunks have been handed out

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """inputs, targets: new int32 arrays of shape (seq_len, batch); targets[t] = inputs[t + 1]."""
        inputs = self._src.take(self._pos)
        targets = self._dst.take(self._pos)
        self._pos += self.seq_len
        np.remainder(self._pos, self.transitions, out=self._pos)
        self.chunks += 1
        return inputs, targets


def eval_chunks(ids: np.ndarray, batch: int, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks (T', B') that visit each transition of the ids once, B' contiguous streams in order.

    The M = len(ids) - 1 transitions are cut into B' = min(batch, M) streams of M // B' each;
    the last M % B' transitions (at most batch - 1) are dropped so the streams have equal length.
    Carry the hidden state from one chunk to the next; the last chunk may be shorter than seq_len.
    Nothing is yielded when there are fewer than 2 ids.
    """
    ids = np.asarray(ids, dtype=np.int32)
    m = len(ids) - 1
    if m < 1:
        return
    b = min(batch, m)
    length = m // b
    inputs = ids[: b * length].reshape(b, length).T
    targets = ids[1 : b * length + 1].reshape(b, length).T
    for s in range(0, length, seq_len):
        yield np.ascontiguousarray(inputs[s : s + seq_len]), np.ascontiguousarray(targets[s : s + seq_len])
