"""Checkpoints as one .npz file: no pickle, written atomically, every field validated on load.

(Over 500 lines: the validation is one walk over a possibly hostile file, from its first bytes
through the array headers to the meta; where a save may go, past links and onto which files, is
here because only `save_checkpoint` and the check before a run use it.)"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import lzma
import math
import os
import secrets
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import BUILTIN_CORPORA, Vocab
from rnn_tui.engine.corpus_cache import size_text
from rnn_tui.engine.errors import CheckpointError, ConfigError, CorpusError
from rnn_tui.engine.optim import OPTIMIZERS

FORMAT_VERSION = 1
MAX_META_CHARS = 1_000_000  # the JSON `meta` string; a vocabulary of MAX_VOCAB chars needs ~70k
OPT_PREFIX = "opt."
MAX_ENTRIES = 1000  # arrays in one file; the largest model with optimizer state has under 100
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive's end record
# Settings a caller refuses (raising) from a checkpoint's meta before any array is read.
Limit = Callable[[ModelConfig, TrainConfig | None], None]

# What a damaged or hostile archive can raise while numpy and zipfile read it (numpy's header
# parser lets TypeError and tokenize.TokenError out).
_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    KeyError,
    OverflowError,
    MemoryError,
    SyntaxError,
    TypeError,
    tokenize.TokenError,
)


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Everything needed to rebuild a model and resume its training."""

    model_config: ModelConfig
    vocab: Vocab
    params: dict[str, np.ndarray]
    train_config: TrainConfig | None = None
    step: int = 0
    corpus: str = ""
    seed: int = 0
    optimizer_state: dict[str, np.ndarray] | None = None


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write `ckpt` to `path` atomically: a temp file in the same directory, fsync, rename.

    Params are stored as float32; optimizer arrays as float32, integer scalars (Adam's `t`) as
    int64. On any OSError the temp file is removed, the old checkpoint is left untouched and
    CheckpointError says why. A crash may leave a `.<name>.<random>.tmp` file behind, never a
    partial file at `path`. A symlink is saved through (its target is replaced, in the target's
    directory); the file replaced keeps its permission mode; anything there but a regular file
    is refused. A corpus file is recorded by its absolute path (`corpus_reference`).
    """
    path = os.fspath(path)
    where = f"cannot save checkpoint {path!r}"
    arrays = _to_arrays(dataclasses.replace(ckpt, corpus=corpus_reference(ckpt.corpus)))
    target, mode = _save_target(path, where)
    directory = os.path.dirname(target)
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    created = False
    try:
        # A new file's mode follows the umask; a replaced one's is kept, and its temp file is
        # private from the start, so a 600 checkpoint is never readable by others, even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else 0o600)
        created = True
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise CheckpointError(f"{where}: {e.strerror or e}") from None
        raise
    with contextlib.suppress(OSError):  # best effort: the rename has happened already
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_writable(path: str | os.PathLike) -> None:
    """Refuse at once (CheckpointError) a path `save_checkpoint` could not write, so that a run
    is not trained only to be lost: an empty name, a folder, a non-regular file, a missing or
    read-only folder. The save checks again: the disk can change during a run."""
    path = os.fspath(path)
    where = f"cannot save checkpoint {path!r}"
    if not path:
        raise CheckpointError("the checkpoint file name is empty; give one like model.npz")
    if path.endswith((os.sep, "/")):
        raise CheckpointError(f"{where}: it names a folder; give a file name like model.npz")
    target, _ = _save_target(path, where)
    folder = os.path.dirname(target)
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        raise CheckpointError(f"{where}: folder {folder!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{where}: {_os_reason(e)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{where}: {folder!r} is not a folder")
    # the temp file is created in `folder`, then renamed: both need write and search permission
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CheckpointError(f"{where}: folder {folder!r} is not writable")


def _save_target(path: str, where: str) -> tuple[str, int | None]:
    """(the absolute file a save replaces, its permission bits or None if there is none yet).

    A symlink's target, so that the link stays a link. A rename over a directory, FIFO or device
    would destroy it (or fail late), so anything but a regular file there is refused.
    """
    try:
        target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    except (OSError, ValueError) as e:  # (ValueError: a NUL in the name)
        raise CheckpointError(f"{where}: {_os_reason(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{where}: it is a folder; give a file name like model.npz")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{where}: it is not a regular file, refusing to replace it")
    return target, stat.S_IMODE(st.st_mode) & 0o777


def _os_reason(e: Exception) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or _one_line(str(e))


def corpus_reference(corpus: str) -> str:
    """How a checkpoint names its corpus: a built-in by its name, a file by its absolute path
    (a relative one would mean another file, or none, from another folder)."""
    return os.path.abspath(corpus) if _relative_file(corpus) else corpus


def _relative_file(corpus: str) -> bool:
    """Whether a checkpoint's corpus name is a file's relative path (not a built-in's name)."""
    return bool(corpus) and corpus not in BUILTIN_CORPORA and not os.path.isabs(corpus)


def _resolve_corpus(corpus: str, path: str) -> str:
    """The corpus file of an older checkpoint, which recorded it relative to where training ran:
    first relative to the checkpoint's folder (a model kept beside its text), else as recorded,
    so relative to the current folder."""
    if not _relative_file(corpus):
        return corpus
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), corpus)
    return beside if os.path.exists(beside) else corpus


def checkpoint_bytes(ckpt: Checkpoint) -> bytes:
    """The bytes `save_checkpoint` would write: how a checkpoint crosses to another process."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **_to_arrays(ckpt))
    return buf.getvalue()


def checkpoint_from_bytes(
    data: bytes, where: str = "checkpoint", limit: Limit | None = None
) -> Checkpoint:
    """`load_checkpoint` for bytes in memory: the same validation, no pickle. `limit(model,
    train)` sees the settings in `meta` before any array is read and raises to refuse them (a
    public server's caps)."""
    return _read_file(io.BytesIO(data), where, limit)


def _to_arrays(ckpt: Checkpoint) -> dict[str, np.ndarray]:
    shapes = ckpt.model_config.param_shapes()
    if len(ckpt.vocab) != ckpt.model_config.vocab_size:
        raise CheckpointError(
            f"refusing to save: vocabulary has {len(ckpt.vocab)} characters, "
            f"model expects {ckpt.model_config.vocab_size}"
        )
    if set(ckpt.params) != set(shapes):
        raise CheckpointError(
            f"refusing to save: parameters {sorted(ckpt.params)} != {list(shapes)}"
        )
    meta = {
        "format_version": FORMAT_VERSION,
        "model": ckpt.model_config.to_dict(),
        "train": ckpt.train_config.to_dict() if ckpt.train_config else None,
        "vocab": list(ckpt.vocab.chars),
        # how text becomes ids (absent in older checkpoints: characters, none unknown)
        "symbols": ckpt.vocab.symbols,
        "unknown": ckpt.vocab.unknown,
        "step": int(ckpt.step),
        "corpus": str(ckpt.corpus),
        "seed": int(ckpt.seed),
    }
    arrays = {"meta": np.array(json.dumps(meta, ensure_ascii=False))}
    for name, shape in shapes.items():
        p = np.asarray(ckpt.params[name], dtype=np.float32)
        if p.shape != shape:
            raise CheckpointError(
                f"refusing to save: parameter {name!r} has shape {p.shape}, not {shape}"
            )
        _check_finite(f"refusing to save: parameter {name!r}", p)
        arrays[name] = p
    for key, value in (ckpt.optimizer_state or {}).items():
        v = np.asarray(value)
        v = v.astype(np.int64) if v.dtype.kind in "iu" and v.ndim == 0 else v.astype(np.float32)
        _check_finite(f"refusing to save: optimizer state {key!r}", v)
        arrays[OPT_PREFIX + key] = v
    return arrays


def _check_finite(what: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise CheckpointError(
            f"{what} contains {'NaN' if np.isnan(a).any() else 'infinite values'}"
        )


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint; CheckpointError (one line, naming the file) if anything is off.

    Sizes come from the validated meta and every array header is checked before its data is
    read, so a hostile file cannot make us allocate more than a valid model of its size.
    Params must be float32 (either byte order); optimizer arrays may be any float width (read
    as float32) or, for counters like `t`, integers (read as int64). A corpus file recorded by a
    relative path (older checkpoints) is looked for beside the checkpoint first (`_resolve_corpus`).
    """
    path = os.fspath(path)
    where = f"checkpoint {path!r}"
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise CheckpointError(f"{where} is a directory, not a .npz file")
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"{where} is not a regular file")
        f = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"{where} does not exist") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {where}: {e.strerror or e}") from None
    with f:  # our own handle: np.load leaks the one it opens when the zip directory is corrupt
        ckpt = _read_file(f, where)
    return dataclasses.replace(ckpt, corpus=_resolve_corpus(ckpt.corpus, path))


def _read_file(f, where: str, limit: Limit | None = None) -> Checkpoint:
    """The checkpoint in binary file `f`, from its start. Only a zip goes to np.load: given
    anything else it returns a bare array (.npy) or tries to unpickle."""
    magic = f.read(len(NPY_MAGIC))
    if magic.startswith(NPY_MAGIC):
        raise CheckpointError(
            f"{where} is not an .npz checkpoint (not a zip archive): it is a single .npy array"
        )
    if magic[:4] not in ZIP_MAGICS:
        raise CheckpointError(f"{where} is not an .npz checkpoint (not a zip archive)")
    f.seek(0)
    with _reading(where):
        npz = np.load(f, allow_pickle=False)
    with npz:
        return _read(npz, where, limit)


@contextlib.contextmanager
def _reading(where: str) -> Iterator[None]:
    """Turn what numpy and zipfile raise on damaged bytes into one CheckpointError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's header parser warns about odd literals
            yield
    except _READ_ERRORS as e:
        if isinstance(e, ValueError) and "pickle" in str(e):
            raise CheckpointError(
                f"{where} contains a pickled object array; refusing to load it"
            ) from None
        detail = _one_line(str(e))
        raise CheckpointError(
            f"{where} is truncated or corrupt ({type(e).__name__}: {detail})"
        ) from None


def _read(npz, where: str, limit: Limit | None = None) -> Checkpoint:
    files = list(npz.files)
    members = set(npz.zip.namelist())
    if len(files) > MAX_ENTRIES:
        raise CheckpointError(f"{where} holds {len(files)} entries, more than {MAX_ENTRIES}")
    if len(set(files)) != len(files):
        raise CheckpointError(f"{where} holds the same array name twice")
    if "meta" not in files:
        raise CheckpointError(f"{where} has no 'meta' entry")
    headers = {name: _header(npz, name, members, where) for name in files}
    meta_shape, meta_dtype = headers["meta"]
    if meta_shape != () or meta_dtype.kind != "U" or meta_dtype.itemsize // 4 > MAX_META_CHARS:
        raise CheckpointError(f"{where}: 'meta' must be one JSON string")
    with _reading(where):
        meta_array = npz["meta"]
    # A code point past U+10FFFF makes NumPy build a broken str (json then fails with SystemError).
    codes = meta_array.reshape(1).view(np.dtype(meta_array.dtype.byteorder + "u4"))
    if codes.size and int(codes.max()) > 0x10FFFF:
        raise CheckpointError(f"{where}: 'meta' is not text")
    text = str(meta_array[()])
    meta = _parse_meta(text, where)
    model, train = meta["model"], meta["train"]
    if limit is not None:
        limit(model, train)
    shapes = model.param_shapes()

    opt_names = [n for n in files if n.startswith(OPT_PREFIX)]
    missing = [n for n in shapes if n not in headers]
    extra = sorted(set(files) - set(shapes) - set(opt_names) - {"meta"})
    if missing:
        raise CheckpointError(f"{where} is missing parameter array(s): {', '.join(missing)}")
    if extra:
        raise CheckpointError(f"{where} has unexpected array(s): {', '.join(extra)}")
    for name, shape in shapes.items():
        got_shape, dtype = headers[name]
        if got_shape != shape:
            raise CheckpointError(
                f"{where}: parameter {name!r} has shape {got_shape}, expected {shape}"
            )
        if dtype.kind != "f" or dtype.itemsize != 4:
            raise CheckpointError(
                f"{where}: parameter {name!r} has dtype {dtype}, expected float32"
            )
    biggest = max(math.prod(s) for s in shapes.values())
    carry = _carry_shape(model, train.batch) if train is not None else None
    for name in opt_names:
        _check_opt_header(name[len(OPT_PREFIX) :], *headers[name], shapes, biggest, carry, where)
    _check_total(model, train, headers, len(opt_names), where)

    params = {n: _load_array(npz, n, where, f"{where}: parameter {n!r}") for n in shapes}
    opt = {
        n[len(OPT_PREFIX) :]: _load_array(npz, n, where, f"{where}: optimizer state {n!r}")
        for n in opt_names
    }
    return Checkpoint(
        model_config=model,
        vocab=meta["vocab"],
        params=params,
        train_config=meta["train"],
        step=meta["step"],
        corpus=meta["corpus"],
        seed=meta["seed"],
        optimizer_state=opt or None,
    )


def _header(npz, name: str, members: set[str], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an array's .npy header, without reading its data."""
    member = name + ".npy"
    if member not in members:
        raise CheckpointError(f"{where} has an entry {name!r} that is not an array")
    with _reading(where), npz.zip.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise CheckpointError(
                f"{where}: array {name!r} uses unsupported .npy version {version}"
            )
    if dtype.hasobject:
        raise CheckpointError(
            f"{where} contains a pickled object array ({name!r}); refusing to load it"
        )
    if dtype.kind not in "fiuU" or dtype.subdtype is not None or dtype.names is not None:
        raise CheckpointError(f"{where}: array {name!r} has unsupported dtype {dtype}")
    return tuple(shape), dtype


def _check_opt_header(key, shape, dtype, shapes, biggest, carry, where) -> None:
    what = f"{where}: optimizer state {OPT_PREFIX + key!r}"
    if dtype.kind not in "fiu":
        raise CheckpointError(f"{what} has dtype {dtype}, expected numbers")
    if dtype.itemsize > 8:
        raise CheckpointError(f"{what} has dtype {dtype}, wider than 64 bits")
    param = key.rsplit(".", 1)[-1]
    if key in SCALAR_STATE:
        if shape != ():
            raise CheckpointError(f"{what} must be a scalar, not shape {shape}")
    elif carry is not None and key.startswith("carry."):
        if shape != carry:
            raise CheckpointError(f"{what} has shape {shape}, expected {carry}")
    elif param in shapes:
        if shape != shapes[param]:
            raise CheckpointError(
                f"{what} has shape {shape}, expected {shapes[param]} like {param!r}"
            )
    elif math.prod(shape) > biggest:
        raise CheckpointError(f"{what} is larger than any parameter ({shape})")


# `Trainer.to_checkpoint`'s optimizer state besides the optimizer's slots (`Optimizer.state`,
# '<slot>.<param>'): these counters and a carried state 'carry.<layer>' for each layer.
SCALAR_STATE = ("t", "stream_chunks")


def _carry_shape(model: ModelConfig, batch: int) -> tuple[int, ...]:
    """A layer's carried state between chunks (its `Recurrence.state_shape`): the LSTM's
    [h, c], the others' h."""
    return (2, batch, model.hidden) if model.cell == "lstm" else (batch, model.hidden)


def _check_total(model, train, headers, opt_arrays: int, where: str) -> None:
    """Refuse, from the headers alone, more arrays or bytes than a model of these settings and
    its training state have: a hostile file may not allocate more than a valid one of its size.
    Each array is checked alone too, but a zip compresses zeros a thousandfold, so many arrays
    each no larger than a parameter would still make a small file cost gigabytes.

    Without train settings, which every trainer's checkpoint has, the state may be any
    optimizer's, and no layer carries a state (its shape would depend on the batch).
    """
    if train is not None:
        state = f"{train.optimizer} training state"
        slots = len(OPTIMIZERS[train.optimizer].slots)
        carried = model.layers * math.prod(_carry_shape(model, train.batch))
    else:
        state = "training state (any optimizer)"
        slots = max(len(o.slots) for o in OPTIMIZERS.values())
        carried = 0
    shapes = model.param_shapes()
    params = sum(math.prod(s) for s in shapes.values())
    arrays = slots * len(shapes) + len(SCALAR_STATE) + (model.layers if train else 0)
    if opt_arrays > arrays:
        raise CheckpointError(
            f"{where} holds {opt_arrays} optimizer arrays; this model's {state} has at most "
            f"{arrays}"
        )
    # parameters are float32; optimizer state may be stored at up to 64 bits a number
    need = 4 * params + 8 * (slots * params + len(SCALAR_STATE) + carried)
    held = sum(
        math.prod(shape) * dtype.itemsize
        for name, (shape, dtype) in headers.items()
        if name != "meta"
    )
    if held > need:
        raise CheckpointError(
            f"{where} holds {size_text(held)} of arrays; this model and its {state} need "
            f"at most {size_text(need)}"
        )


def _load_array(npz, name: str, where: str, what: str) -> np.ndarray:
    with _reading(where):
        a = npz[name]
    if a.dtype.kind == "f":
        _check_finite(what, a)
        a = np.asarray(a, dtype=np.float32, order="C")
        _check_finite(what, a)  # a float64 beyond float32's range became inf
        return a
    a = np.asarray(a, dtype=np.int64, order="C")
    if (a < 0).any():
        raise CheckpointError(f"{what} is negative (or too large)")
    return a


def _one_line(text: str) -> str:
    """At most 200 printable characters on one line: nothing in a file can inject escapes."""
    text = " ".join(text.split())[:200]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _parse_meta(text: str, where: str) -> dict:
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise CheckpointError(f"{where}: 'meta' is not valid JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: 'meta' is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CheckpointError(
            f"{where} has format version {_one_line(repr(version))}; "
            f"this rnn-tui reads version {FORMAT_VERSION}"
        )
    try:
        if not isinstance(meta.get("model"), dict):
            raise ConfigError("no model settings")
        model = ModelConfig.from_dict(meta["model"])
        train = meta.get("train")
        if train is not None and not isinstance(train, dict):
            raise ConfigError("train settings are not an object")
        train = TrainConfig.from_dict(train) if train is not None else None
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{where} has invalid settings: {_one_line(str(e))}") from None
    chars = meta.get("vocab")
    if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise CheckpointError(f"{where}: vocabulary must be a list of single characters")
    # a lone surrogate is no character of any text, and printing it fails (UnicodeEncodeError)
    if any("\ud800" <= c <= "\udfff" for c in chars):
        raise CheckpointError(f"{where}: vocabulary holds a surrogate code point, not a character")
    if len(chars) != model.vocab_size:
        raise CheckpointError(
            f"{where}: vocabulary has {len(chars)} characters, the model expects {model.vocab_size}"
        )
    if chars != sorted(set(chars)):
        raise CheckpointError(f"{where}: vocabulary has repeated or unsorted characters")
    symbols, unknown = meta.get("symbols", "chars"), meta.get("unknown", False)
    if not isinstance(symbols, str) or type(unknown) is not bool:
        raise CheckpointError(f"{where}: 'symbols' must be a string and 'unknown' true or false")
    try:
        vocab = Vocab(chars, unknown=unknown, symbols=symbols)
    except CorpusError as e:
        raise CheckpointError(f"{where}: {_one_line(str(e))}") from None
    for key in ("step", "seed"):
        value = meta.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            got = _one_line(repr(value))
            raise CheckpointError(f"{where}: {key} must be a whole number >= 0 (got {got})")
    corpus = meta.get("corpus", "")
    if not isinstance(corpus, str):
        raise CheckpointError(f"{where}: corpus name must be a string")
    if "\x00" in corpus:  # (os.stat raises ValueError on it)
        raise CheckpointError(f"{where}: corpus name holds a NUL character")
    try:
        os.fsencode(corpus)  # a lone surrogate outside surrogateescape's range names no file
    except UnicodeEncodeError:
        raise CheckpointError(f"{where}: corpus name holds a surrogate code point") from None
    return {
        "model": model,
        "train": train,
        "vocab": vocab,
        "step": meta.get("step", 0),
        "seed": meta.get("seed", 0),
        "corpus": corpus,
    }
