"""Every row of README's bad-input table, through the real `rnn-tui` command in a subprocess.

Each must end in exit code 2 and exactly one `error:` line naming the problem, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ENV, assert_user_error, rnn_tui

from rnn_tui.engine.checkpoint import Checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.model import init_params

# -- corpora --------------------------------------------------------------------------------


def _corpus_cases(d):
    (d / "folder").mkdir()
    (d / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (d / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (d / "empty.txt").write_bytes(b"")
    (d / "one.txt").write_text("aaaaaaaaaa")
    return [
        ("missing", str(d / "nope.txt"), ["nope.txt", "no corpus file"]),
        ("directory", str(d / "folder"), ["folder", "directory"]),
        ("latin-1", str(d / "latin1.txt"), ["not UTF-8", "offset 3"]),
        ("binary", str(d / "binary.txt"), ["not UTF-8", "offset 0"]),
        ("empty", str(d / "empty.txt"), ["empty"]),
        ("one char", str(d / "one.txt"), ["one distinct character"]),
    ]


@pytest.fixture(scope="module")
def corpus_cases(tmp_path_factory):
    return _corpus_cases(tmp_path_factory.mktemp("corpora"))


@pytest.mark.parametrize("index", range(6))
def test_bad_corpus(corpus_cases, index):
    _, path, words = corpus_cases[index]
    assert_user_error(rnn_tui("train", "--corpus", path, "--steps", "1"), *words)


def test_unreadable_corpus_names_the_reason(tmp_path, monkeypatch):
    """As root, chmod cannot make a file unreadable: the loader's message is checked in-process."""
    from rnn_tui.engine import corpus
    from rnn_tui.engine.errors import CorpusError

    path = tmp_path / "locked.txt"
    path.write_text("hello world")

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(CorpusError, match="locked.txt.*(ermission|readable)"):
        corpus.load_corpus(str(path))


def test_vocabulary_over_the_limit_trains_with_rare_characters_as_unknown(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("ab" * 100 + "".join(chr(0x4E00 + i) for i in range(9000)), encoding="utf-8")
    out = rnn_tui("train", "--corpus", str(path), "--hidden", "8", "--seq-len", "8", "--steps", "1")
    assert out.returncode == 0, out.stderr
    assert "811 rare characters" in out.stderr and "Traceback" not in out.stderr


def test_cache_that_cannot_be_made_still_trains(tmp_path):
    """XDG_CACHE_HOME names a file: no cache directory can be made; the ids stay in memory."""
    (tmp_path / "not-a-dir").write_text("x")
    path = tmp_path / "c.txt"
    path.write_text("hello cache " * 100)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            "train",
            "--corpus",
            str(path),
            "--hidden",
            "8",
            "--steps",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "XDG_CACHE_HOME": str(tmp_path / "not-a-dir")},
    )
    assert out.returncode == 0, out.stderr
    assert "no cache written" in out.stderr and "Traceback" not in out.stderr


def test_large_cjk_vocabulary_within_the_limit_works(tmp_path):
    path = tmp_path / "cjk.txt"
    rng = np.random.default_rng(0)
    path.write_text(
        "".join(chr(0x4E00 + int(i)) for i in rng.integers(0, 3000, 20_000)), encoding="utf-8"
    )
    out = rnn_tui(
        "train",
        "--corpus",
        str(path),
        "--cell",
        "rnn",
        "--hidden",
        "16",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--steps",
        "3",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"]["vocab_size"] > 2900


# -- checkpoints ----------------------------------------------------------------------------


def _valid_arrays() -> dict:
    config = ModelConfig(vocab_size=5, cell="rnn", hidden=4)
    ckpt = Checkpoint(config, Vocab("abcde"), init_params(config, np.random.default_rng(0)), step=3)
    return ckpt


def _write(path, arrays: dict) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _arrays_of(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _meta_with(arrays, **changes):
    meta = json.loads(str(arrays["meta"][()]))
    for key, value in changes.items():
        if key.startswith("model."):
            meta["model"][key[6:]] = value
        else:
            meta[key] = value
    return {**arrays, "meta": np.array(json.dumps(meta))}


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/rnn_tui_pwned_marker",))


def _checkpoint_cases(d):
    good = d / "good.npz"
    save_checkpoint(good, _valid_arrays())
    a = _arrays_of(good)
    (d / "notzip.npz").write_text("this is not a zip file")
    (d / "truncated.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _write(d / "version.npz", _meta_with(a, format_version=99))
    _write(d / "missing.npz", {k: v for k, v in a.items() if k != "Whh"})
    _write(d / "extra.npz", {**a, "Wzz": np.zeros(3, np.float32)})
    _write(d / "shape.npz", {**a, "Whh": np.zeros((4, 5), np.float32)})
    _write(d / "dtype.npz", {**a, "Whh": a["Whh"].astype(np.float64)})
    _write(d / "nan.npz", {**a, "Whh": np.full((4, 4), np.nan, np.float32)})
    _write(d / "inf.npz", {**a, "by": np.full(5, np.inf, np.float32)})
    _write(d / "vocab.npz", _meta_with(a, vocab=list("abcdef")))
    _write(d / "absurd.npz", _meta_with(a, **{"model.hidden": 10**9}))
    _write(d / "metajson.npz", {**a, "meta": np.array("{not json")})
    with zipfile.ZipFile(d / "pickle.npz", "w") as z:
        for k, v in a.items():
            with z.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, v)
        with z.open("E.npy", "w") as f:
            np.lib.format.write_array(f, np.array([_Evil()], dtype=object), allow_pickle=True)
    return [
        ("missing file", d / "absent.npz", ["absent.npz"]),
        ("not a zip", d / "notzip.npz", ["not a zip"]),
        ("truncated", d / "truncated.npz", ["truncated"]),
        ("wrong version", d / "version.npz", ["99"]),
        ("missing array", d / "missing.npz", ["Whh", "missing"]),
        ("extra array", d / "extra.npz", ["Wzz", "unexpected"]),
        ("wrong shape", d / "shape.npz", ["Whh", "shape"]),
        ("wrong dtype", d / "dtype.npz", ["Whh", "float64"]),
        ("NaN weights", d / "nan.npz", ["Whh"]),
        ("Inf weights", d / "inf.npz", ["by"]),
        ("vocab mismatch", d / "vocab.npz", ["vocab"]),
        ("absurd size", d / "absurd.npz", ["hidden"]),
        ("bad meta", d / "metajson.npz", ["meta"]),
        ("pickled object", d / "pickle.npz", ["pickle"]),
    ]


@pytest.fixture(scope="module")
def checkpoint_cases(tmp_path_factory):
    return _checkpoint_cases(tmp_path_factory.mktemp("ckpt"))


@pytest.mark.parametrize("index", range(14))
@pytest.mark.parametrize("command", ["predict", "train"])
def test_bad_checkpoint(checkpoint_cases, index, command):
    import os

    marker = "/tmp/rnn_tui_pwned_marker"
    if os.path.exists(marker):
        os.remove(marker)
    name, path, words = checkpoint_cases[index]
    args = (
        ["predict", str(path), "abc"]
        if command == "predict"
        else ["train", "--resume", str(path), "--steps", "1"]
    )
    assert_user_error(rnn_tui(*args), *words)
    assert not os.path.exists(marker), f"{name}: code ran while loading"


# -- option values --------------------------------------------------------------------------

# every option in range, the step over 300 GB
TOO_BIG = "--corpus zen --hidden 1024 --layers 3 --batch 1024 --seq-len 1024".split()
OPTION_CASES = [
    (["train", "--hidden", "0"], ["hidden", "1 to 1024"]),
    (["train", "--hidden", "1000000"], ["hidden", "1 to 1024"]),
    (["train", "--lr", "-0.1"], ["lr", "(0, 10]"]),
    (["train", "--lr", "0"], ["lr"]),
    (["train", "--lr", "nan"], ["lr"]),
    (["train", "--lr", "inf"], ["lr"]),
    (["train", "--steps", "-5"], ["--steps"]),
    (["train", "--steps", "0"], ["--steps"]),
    (["train", "--seconds", "-1"], ["--seconds"]),
    (["train", "--batch", "0"], ["batch"]),
    (["train", "--seq-len", "100000"], ["seq-len"]),
    (["train", "--embed", "-2"], ["embed"]),
    (["train", "--clip", "-1"], ["clip"]),
    (["train", "--seed", "-1"], ["seed"]),
    (["train", "--hidden", "abc"], ["--hidden"]),
    (["sample", "x.npz", "--temperature", "-1"], ["temperature"]),
    (["sample", "x.npz", "--length", "-1"], ["length"]),
    (["predict", "x.npz", "a", "--top", "0"], ["--top"]),
    (["series", "--lesson", "ramp", "--hidden", "0"], ["hidden"]),
    # refused before anything is made
    (["train", *TOO_BIG, "--steps", "1"], ["GB of memory", "is free", "--batch"]),
    (["app", *TOO_BIG], ["GB of memory", "is free", "--batch"]),
]


@pytest.mark.parametrize("args,words", OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_bad_option_values(args, words):
    assert_user_error(rnn_tui(*args), *words)


def test_odd_typed_text_never_crashes(tmp_path):
    """Characters outside the vocabulary, control characters, 100 KB of text (argv caps one argument
    at 128 KB; the app test pastes a megabyte): no crash."""
    path = tmp_path / "m.npz"
    save_checkpoint(path, _valid_arrays())
    for text in ["abc\x01\x1b[2J\u202edé", "é" * 10, "ab" * 50_000]:
        out = rnn_tui("predict", str(path), text, "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert abs(sum(t["prob"] for t in data["top"]) - 1) < 1e-6
