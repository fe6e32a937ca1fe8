"""Checkpoints: round trips, every malformed file refused with a clear message, atomic saves."""

import errno
import io
import json
import os
import random
import signal
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, wait_for

from rnn_tui.engine import checkpoint as ckpt_mod
from rnn_tui.engine.checkpoint import FORMAT_VERSION, Checkpoint, load_checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.errors import CheckpointError

VOCAB = Vocab("abcd")
SMALL = ModelConfig(vocab_size=4, cell="rnn", hidden=4)


def make_ckpt(config=SMALL, rng_seed=0, **kw):
    rng = np.random.default_rng(rng_seed)
    params = {
        k: rng.standard_normal(s).astype(np.float32) for k, s in config.param_shapes().items()
    }
    vocab = Vocab(chr(ord("a") + i) for i in range(config.vocab_size))
    return Checkpoint(config, vocab, params, **kw)


def valid_arrays(config=SMALL):
    """The arrays of a valid checkpoint, as a dict we can damage before writing."""
    c = make_ckpt(config)
    meta = {
        "format_version": FORMAT_VERSION,
        "model": config.to_dict(),
        "train": None,
        "vocab": list(c.vocab.chars),
        "step": 3,
        "corpus": "abcde",
        "seed": 0,
    }
    return meta, dict(c.params)


def write_npz(path, meta, arrays):
    np.savez(path, meta=np.array(json.dumps(meta) if isinstance(meta, dict) else meta), **arrays)
    return str(path)


def npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def refused(path, pattern):
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# --- Round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embed", [0, 3])
def test_round_trip(tmp_path, cell, layers, embed):
    config = ModelConfig(vocab_size=5, cell=cell, hidden=6, layers=layers, embed=embed)
    c = make_ckpt(
        config,
        rng_seed=layers,
        train_config=TrainConfig(seq_len=8, batch=2),
        step=42,
        corpus="zen",
        seed=7,
    )
    path = tmp_path / "model.npz"
    save_checkpoint(path, c)
    d = load_checkpoint(path)
    assert d.model_config == config and d.vocab == c.vocab and d.train_config == c.train_config
    assert (d.step, d.corpus, d.seed, d.optimizer_state) == (42, "zen", 7, None)
    assert list(d.params) == list(config.param_shapes())
    for name, p in c.params.items():
        assert d.params[name].dtype == np.float32
        assert np.array_equal(d.params[name], p)


def test_plain_numpy_can_read_it(tmp_path):
    c = make_ckpt(ModelConfig(vocab_size=4, cell="lstm", hidden=3, layers=2))
    save_checkpoint(tmp_path / "m.npz", c)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        assert meta["format_version"] == 1 and meta["vocab"] == ["a", "b", "c", "d"]
        assert meta["model"] == {
            "vocab_size": 4,
            "cell": "lstm",
            "hidden": 3,
            "layers": 2,
            "embed": 0,
        }
        assert npz["Wx_1"].shape == (3, 12) and npz["Wx_1"].dtype == np.float32
        assert set(npz.files) == {"meta", *c.params}


def test_float64_params_saved_as_float32(tmp_path):
    c = make_ckpt()
    c.params["Whh"] = c.params["Whh"].astype(np.float64) / 3
    save_checkpoint(tmp_path / "m.npz", c)
    d = load_checkpoint(tmp_path / "m.npz")
    assert d.params["Whh"].dtype == np.float32
    assert np.allclose(d.params["Whh"], c.params["Whh"], rtol=1e-6)


def test_optimizer_state_round_trip(tmp_path):
    c = make_ckpt()
    opt = {f"{s}.{k}": np.full(p.shape, 0.5, np.float64) for s in "mv" for k, p in c.params.items()}
    opt["t"] = np.array(17)
    save_checkpoint(tmp_path / "m.npz", make_ckpt(optimizer_state=opt))
    d = load_checkpoint(tmp_path / "m.npz")
    assert set(d.optimizer_state) == set(opt)
    assert d.optimizer_state["t"].shape == () and int(d.optimizer_state["t"]) == 17
    assert d.optimizer_state["t"].dtype == np.int64
    assert d.optimizer_state["v.Whh"].dtype == np.float32 and np.all(
        d.optimizer_state["v.Whh"] == 0.5
    )


def test_unicode_vocab_round_trip(tmp_path):
    config = ModelConfig(vocab_size=3, cell="gru", hidden=2)
    c = Checkpoint(config, Vocab("机器🙂"), make_ckpt(config).params)
    save_checkpoint(tmp_path / "zh.npz", c)
    assert load_checkpoint(tmp_path / "zh.npz").vocab.chars == tuple(sorted("机器🙂"))


# --- Refusals -------------------------------------------------------------------------------------


def test_missing_and_directory(tmp_path):
    refused(tmp_path / "nope.npz", "does not exist")
    refused(tmp_path, "is a directory")


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x93NUMPY\x01\x00"])
def test_not_a_zip(tmp_path, data):
    path = tmp_path / "x.npz"
    path.write_bytes(data)
    refused(path, r"is not an .npz checkpoint \(not a zip archive\)")


def test_npy_instead_of_npz(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(3))
    refused(tmp_path / "x.npy", "not a zip archive")


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.99])
def test_truncated(tmp_path, keep):
    save_checkpoint(tmp_path / "m.npz", make_ckpt())
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: int(len(data) * keep)])
    refused(tmp_path / "t.npz", "is truncated or corrupt")


def test_flipped_data_byte_is_caught_by_crc(tmp_path):
    c = make_ckpt()
    save_checkpoint(tmp_path / "m.npz", c)
    data = bytearray((tmp_path / "m.npz").read_bytes())
    at = data.index(c.params["Whh"].tobytes())
    data[at + 5] ^= 0xFF
    (tmp_path / "m.npz").write_bytes(bytes(data))
    refused(tmp_path / "m.npz", r"truncated or corrupt \(BadZipFile: Bad CRC-32")


def test_wrong_version(tmp_path):
    meta, arrays = valid_arrays()
    meta["format_version"] = 2
    path = write_npz(tmp_path / "m.npz", meta, arrays)
    assert refused(path, "format version") == (
        f"checkpoint '{path}' has format version 2; this rnn-tui reads version 1"
    )


@pytest.mark.parametrize(
    "meta, pattern",
    [
        ("not json", "'meta' is not valid JSON"),
        ("[1, 2]", "'meta' is not a JSON object"),
        ("[" * 100_000, "'meta' is not valid JSON"),
        (np.zeros(3), "'meta' must be one JSON string"),
        ({"format_version": 1}, "invalid settings: no model settings"),
    ],
)
def test_bad_meta(tmp_path, meta, pattern):
    _, arrays = valid_arrays()
    if isinstance(meta, np.ndarray):
        np.savez(tmp_path / "m.npz", meta=meta, **arrays)
        path = str(tmp_path / "m.npz")
    else:
        path = write_npz(
            tmp_path / "m.npz", meta if isinstance(meta, dict) else np.array(meta), arrays
        )
    refused(path, pattern)


def test_no_meta(tmp_path):
    _, arrays = valid_arrays()
    np.savez(tmp_path / "m.npz", **arrays)
    refused(tmp_path / "m.npz", "has no 'meta' entry")


@pytest.mark.parametrize(
    "change, pattern",
    [
        (
            {"model": {"vocab_size": 4, "cell": "transformer"}},
            r"invalid settings: cell must be one of rnn, lstm, gru",
        ),
        (
            {"model": {"vocab_size": 4, "colour": "red"}},
            "invalid settings: unknown model settings: 'colour'",
        ),
        ({"model": {"cell": "rnn"}}, "invalid settings: .*vocab_size"),
        ({"train": {"seq_len": 0}}, "invalid settings: seq-len must be a whole number"),
        ({"train": "fast"}, "invalid settings: train settings are not an object"),
        ({"vocab": ["a", "b", "c"]}, "vocabulary has 3 characters, the model expects 4"),
        ({"vocab": ["a", "b", "c", "de"]}, "list of single characters"),
        ({"vocab": ["b", "a", "c", "d"]}, "repeated or unsorted"),
        ({"vocab": ["a", "a", "c", "d"]}, "repeated or unsorted"),
        ({"vocab": "abcd"}, "list of single characters"),
        ({"step": -1}, r"step must be a whole number >= 0 \(got -1\)"),
        ({"step": 1.5}, "step must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"corpus": 3}, "corpus name must be a string"),
    ],
)
def test_bad_meta_fields(tmp_path, change, pattern):
    meta, arrays = valid_arrays()
    meta.update(change)
    refused(write_npz(tmp_path / "m.npz", meta, arrays), pattern)


def test_missing_and_extra_arrays(tmp_path):
    meta, arrays = valid_arrays()
    del arrays["Whh"], arrays["by"]
    refused(write_npz(tmp_path / "a.npz", meta, arrays), r"missing parameter array\(s\): Whh, by$")
    meta, arrays = valid_arrays()
    arrays["Wfoo"] = np.zeros(2, np.float32)
    refused(write_npz(tmp_path / "b.npz", meta, arrays), r"unexpected array\(s\): Wfoo$")


@pytest.mark.parametrize(
    "value, pattern",
    [
        (np.zeros((3, 4), np.float32), r"parameter 'Whh' has shape \(3, 4\), expected \(4, 4\)"),
        (np.zeros(16, np.float32), r"has shape \(16,\), expected \(4, 4\)"),
        (np.zeros((4, 4), np.float64), "parameter 'Whh' has dtype float64, expected float32"),
        (np.zeros((4, 4), np.int32), "has dtype int32, expected float32"),
        (np.zeros((4, 4), np.float16), "has dtype float16, expected float32"),
        (np.array([[np.nan] * 4] * 4, np.float32), "parameter 'Whh' contains NaN"),
        (np.array([[1, 2, 3, np.inf]] * 4, np.float32), "parameter 'Whh' contains infinite values"),
        (np.zeros((4, 4), "S4"), "unsupported dtype"),
        (np.zeros((4, 4), [("x", "<f4")]), "unsupported dtype"),
    ],
)
def test_bad_parameter_arrays(tmp_path, value, pattern):
    meta, arrays = valid_arrays()
    arrays["Whh"] = value
    refused(write_npz(tmp_path / "m.npz", meta, arrays), pattern)


def test_big_endian_float32_accepted(tmp_path):
    meta, arrays = valid_arrays()
    arrays["Whh"] = arrays["Whh"].astype(">f4")
    d = load_checkpoint(write_npz(tmp_path / "m.npz", meta, arrays))
    assert d.params["Whh"].dtype == np.dtype("=f4")
    assert np.array_equal(d.params["Whh"], arrays["Whh"])


@pytest.mark.parametrize(
    "key, value, pattern",
    [
        (
            "opt.m.Whh",
            np.zeros((3, 3), np.float32),
            r"'opt.m.Whh' has shape \(3, 3\), expected \(4, 4\) like 'Whh'",
        ),
        ("opt.t", np.zeros(2), "'opt.t' must be a scalar"),
        ("opt.v.by", np.array([1, np.nan, 0, 0], np.float32), "'opt.v.by' contains NaN"),
        ("opt.lr", np.full(17, 0.1), "'opt.lr' is larger than any parameter"),
        ("opt.t", np.array(-3), "'opt.t' is negative"),
        ("opt.t", np.array("x"), "'opt.t' has dtype <U1, expected numbers"),
    ],
)
def test_bad_optimizer_state(tmp_path, key, value, pattern):
    meta, arrays = valid_arrays()
    arrays[key] = value
    refused(write_npz(tmp_path / "m.npz", meta, arrays), pattern)


def test_duplicate_member_refused(tmp_path):
    meta, arrays = valid_arrays()
    path = write_npz(tmp_path / "m.npz", meta, arrays)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("Whh.npy", npy_header((4, 4)) + bytes(64))
    refused(path, "same array name twice")


def test_hostile_text_is_escaped_in_messages(tmp_path):
    meta, arrays = valid_arrays()
    meta["model"]["\x1b[2J"] = 1  # a terminal escape as an unknown setting
    msg = refused(write_npz(tmp_path / "m.npz", meta, arrays), "unknown model settings")
    assert "\x1b" not in msg and "\\x1b[2J" in msg
    meta, arrays = valid_arrays()
    meta["step"] = ["x"] * 10_000
    assert len(refused(write_npz(tmp_path / "s.npz", meta, arrays), "step must be")) < 400


def test_too_many_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt_mod, "MAX_ENTRIES", 5)
    meta, arrays = valid_arrays()
    refused(write_npz(tmp_path / "m.npz", meta, arrays), "holds 6 entries, more than 5")


def test_non_array_member_refused(tmp_path):
    meta, arrays = valid_arrays()
    path = write_npz(tmp_path / "m.npz", meta, arrays)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("README.txt", b"hello")
    refused(path, "entry 'README.txt' that is not an array")


def peak_bytes_while(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def raw_npz(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def test_absurd_hidden_in_meta_allocates_nothing(tmp_path):
    meta, _ = valid_arrays()
    meta["model"]["hidden"] = 10**9
    meta_npy = io.BytesIO()
    np.lib.format.write_array(meta_npy, np.array(json.dumps(meta)))
    members = {
        "meta.npy": meta_npy.getvalue(),
        "Whh.npy": npy_header((10**9, 10**9)),
        "Wxh.npy": npy_header((4, 10**9)),
        "bh.npy": npy_header((10**9,)),
    }
    path = raw_npz(tmp_path / "huge.npz", members)
    msg = []
    pattern = "hidden must be a whole number from 1 to 1024"
    peak = peak_bytes_while(lambda: msg.append(refused(path, pattern)))
    assert "(got 1000000000)" in msg[0]
    assert peak < 5_000_000


def test_huge_array_header_allocates_nothing(tmp_path):
    """A header claiming 1.6 GB (which numpy would allocate before finding the data missing)."""
    meta, arrays = valid_arrays()
    meta_npy = io.BytesIO()
    np.lib.format.write_array(meta_npy, np.array(json.dumps(meta)))
    members = {"meta.npy": meta_npy.getvalue()}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, a)
        members[name + ".npy"] = buf.getvalue()
    members["Whh.npy"] = npy_header((20_000, 20_000))
    path = raw_npz(tmp_path / "huge.npz", members)
    peak = peak_bytes_while(
        lambda: refused(path, r"'Whh' has shape \(20000, 20000\), expected \(4, 4\)")
    )
    assert peak < 5_000_000
    members["Whh.npy"] = npy_header((), descr="<U100000000")  # 400 MB: same trick on the meta
    members["meta.npy"] = members.pop("Whh.npy")
    path = raw_npz(tmp_path / "huge_meta.npz", members)
    peak = peak_bytes_while(lambda: refused(path, "'meta' must be one JSON string"))
    assert peak < 5_000_000


class Payload:
    """Unpickling this creates the file named `marker`: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["Whh", "opt.m.Whh", "evil"])
def test_pickled_object_array_is_refused_without_running_it(tmp_path, name):
    meta, arrays = valid_arrays()
    marker = tmp_path / "pwned"
    arrays[name] = np.array([Payload(str(marker))], dtype=object)
    path = write_npz(tmp_path / "evil.npz", meta, arrays)
    assert b"pwned" in Path(path).read_bytes() and not marker.exists()
    refused(path, "contains a pickled object array")
    assert not marker.exists()
    # the payload is live: an unsafe loader does run it
    with np.load(path, allow_pickle=True) as npz:
        npz[name][0].close()
    assert marker.exists()


def test_pickled_meta_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    members = {"meta.npy": b""}
    buf = io.BytesIO()
    np.lib.format.write_array(
        buf, np.array([Payload(str(marker))], dtype=object), allow_pickle=True
    )
    members["meta.npy"] = buf.getvalue()
    path = raw_npz(tmp_path / "evil.npz", members)
    refused(path, "contains a pickled object array")
    assert not marker.exists()


# --- Saving safely --------------------------------------------------------------------------------


def test_save_refuses_bad_params(tmp_path):
    c = make_ckpt()
    c.params["Whh"][0, 0] = np.nan
    with pytest.raises(CheckpointError, match="refusing to save: parameter 'Whh' contains NaN"):
        save_checkpoint(tmp_path / "m.npz", c)
    c = make_ckpt()
    c.params["Whh"] = np.zeros((2, 2))
    with pytest.raises(CheckpointError, match=r"'Whh' has shape \(2, 2\), not \(4, 4\)"):
        save_checkpoint(tmp_path / "m.npz", c)
    c = make_ckpt()
    del c.params["by"]
    with pytest.raises(CheckpointError, match="refusing to save"):
        save_checkpoint(tmp_path / "m.npz", c)
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="No such file or directory"):
        save_checkpoint(tmp_path / "no" / "m.npz", make_ckpt())


def test_save_overwrites_and_keeps_mode(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(path, make_ckpt(step=1))
    save_checkpoint(path, make_ckpt(step=2))
    assert load_checkpoint(path).step == 2
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask():
    code = "import os; print(os.umask(0))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return int(out.stdout)


@pytest.mark.parametrize(
    "target, err",
    [("replace", errno.EROFS), ("fsync", errno.ENOSPC), ("savez", errno.ENOSPC)],
)
def test_failed_save_leaves_old_file_untouched(tmp_path, monkeypatch, target, err):
    path = tmp_path / "m.npz"
    save_checkpoint(path, make_ckpt(step=1))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(err, os.strerror(err))

    if target == "savez":
        monkeypatch.setattr(ckpt_mod.np, "savez", fail)
    else:
        monkeypatch.setattr(ckpt_mod.os, target, fail)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(path, make_ckpt(rng_seed=1, step=2))
    monkeypatch.undo()
    assert str(info.value) == f"cannot save checkpoint '{path}': {os.strerror(err)}"
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # the temp file is gone
    assert load_checkpoint(path).step == 1


def test_disk_full_midway_through_writing(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_checkpoint(path, make_ckpt(step=1))
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class FullDisk(io.RawIOBase):
        def __init__(self, f):
            self.f, self.written = f, 0

        def writable(self):
            return True

        def seekable(self):
            return True

        def write(self, b):
            if self.written + len(b) > 300:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(b)
            return self.f.write(b)

        def tell(self):
            return self.f.tell()

        def seek(self, *a):
            return self.f.seek(*a)

        def fileno(self):
            return self.f.fileno()

        def close(self):
            self.f.close()
            super().close()

    monkeypatch.setattr(ckpt_mod.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(path, make_ckpt(step=2))
    monkeypatch.undo()
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(path, make_ckpt(step=1))
    before = path.read_bytes()
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(CheckpointError, match="Permission denied"):
            save_checkpoint(path, make_ckpt(step=2))
    finally:
        os.chmod(tmp_path, 0o755)
    assert path.read_bytes() == before


WRITER = """
import sys
import numpy as np
from rnn_tui.engine.checkpoint import Checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.corpus import Vocab

path, step = sys.argv[1], int(sys.argv[2])
config = ModelConfig(vocab_size=64, cell="lstm", hidden=512)  # about 5 MB of float32
vocab = Vocab(chr(48 + i) for i in range(64))
while True:
    step += 1
    params = {k: np.full(s, float(step), np.float32) for k, s in config.param_shapes().items()}
    save_checkpoint(path, Checkpoint(config, vocab, params, step=step))
    if step == int(sys.argv[2]) + 1:
        print("saved", flush=True)
"""


def file_id(path) -> tuple[int, int]:
    """Which file is at `path`: a save puts a new one there (written aside, then renamed)."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_kill_during_save_leaves_old_or_new(tmp_path):
    """kill -9 a process that keeps overwriting the checkpoint: it always loads, whole."""
    path = tmp_path / "model.npz"
    config = ModelConfig(vocab_size=64, cell="lstm", hidden=512)
    vocab = Vocab(chr(48 + i) for i in range(64))
    params = {k: np.zeros(s, np.float32) for k, s in config.param_shapes().items()}
    save_checkpoint(path, Checkpoint(config, vocab, params, step=0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    rng = random.Random(0)
    step = 0
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(step)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "saved"
            # let 0 to 2 more saves land, then kill it wherever it is (mostly inside the next one)
            for _ in range(rng.randrange(3)):
                landed = file_id(path)
                wait_for(lambda landed=landed: file_id(path) != landed, what="the next save")
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        c = load_checkpoint(path)
        assert c.step > step  # at least the save it announced
        for name, p in c.params.items():
            assert np.all(p == c.step), name  # one save's content, never a mix
        step = c.step
        others = [p.name for p in tmp_path.iterdir() if p.name != "model.npz"]
        assert all(n.startswith(".model.npz.") and n.endswith(".tmp") for n in others)
