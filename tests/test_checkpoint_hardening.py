"""Hostile checkpoints refused from their headers and `meta`, before any array is read: a zip
bomb of optimizer arrays, settings beyond a public server's caps, files that are no .npz; and
`eval` naming a vocabulary mismatch as the other commands do."""

from __future__ import annotations

import gzip
import io
import json
import threading
import zipfile

import numpy as np
import pytest
from conftest import assert_user_error, rnn_tui, tiny_trainer

from rnn_tui.app import public_actions
from rnn_tui.app.public import UPLOAD_NAME, PublicPolicy
from rnn_tui.engine import checkpoint as ckpt_mod
from rnn_tui.engine.checkpoint import (
    FORMAT_VERSION,
    checkpoint_bytes,
    checkpoint_from_bytes,
    load_checkpoint,
    save_checkpoint,
)
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import CheckpointError, ConfigError

VOCAB = [chr(ord("a") + i) for i in range(8)]


def npz_bytes(model: dict, train: dict | None, extra: dict[str, np.ndarray]) -> bytes:
    """A checkpoint of zero weights for `model` plus `extra` arrays, deflated as a bomb would be."""
    meta = {
        "format_version": FORMAT_VERSION,
        "model": {"vocab_size": len(VOCAB), **model},
        "train": train,
        "vocab": VOCAB,
        "step": 1,
        "corpus": "",
        "seed": 0,
    }
    shapes = ModelConfig.from_dict(meta["model"]).param_shapes()
    arrays = {
        "meta": np.array(json.dumps(meta)),
        **{k: np.zeros(s, np.float32) for k, s in shapes.items()},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, a in {**arrays, **extra}.items():
            with z.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, a, allow_pickle=False)
    return buf.getvalue()


@pytest.fixture
def no_array_read(monkeypatch):
    """Any parameter or optimizer array read fails the test: a refusal must come before."""

    def read(npz, name, where, what):
        raise AssertionError(f"read array {name!r}")

    monkeypatch.setattr(ckpt_mod, "_load_array", read)


def refused_both_ways(tmp_path, data: bytes, pattern: str) -> None:
    """The same refusal, on one line, from a file and from bytes (an upload)."""
    path = tmp_path / "m.npz"
    path.write_bytes(data)
    for load in (lambda: load_checkpoint(path), lambda: checkpoint_from_bytes(data, "the upload")):
        with pytest.raises(CheckpointError, match=pattern) as info:
            load()
        assert "\n" not in str(info.value)


ADAM = TrainConfig(batch=4).to_dict()
LSTM = {"cell": "lstm", "hidden": 64, "layers": 1, "embed": 0}


def test_a_bomb_of_many_optimizer_arrays_is_refused_from_the_headers(tmp_path, no_array_read):
    # each as large as the largest parameter (Wh, 64 x 256), so each passes alone
    extra = {f"opt.x{i}": np.zeros((64, 256), np.float32) for i in range(50)}
    data = npz_bytes(LSTM, ADAM, extra)
    refused_both_ways(tmp_path, data, "holds 50 optimizer arrays; .* adam .* at most 13")


def test_a_few_oversize_optimizer_arrays_are_refused_by_their_total(tmp_path, no_array_read):
    extra = {f"opt.x{i}": np.zeros((64, 256)) for i in range(5)}  # float64, within the count
    refused_both_ways(tmp_path, npz_bytes(LSTM, ADAM, extra), r"of arrays; .* need at most")


def test_optimizer_arrays_beyond_their_optimizer_are_refused(tmp_path, no_array_read):
    # SGD keeps no copy of the parameters: Adam's m and v beside it are more than it has
    sgd = {**ADAM, "optimizer": "sgd"}
    shapes = ModelConfig(len(VOCAB), **LSTM).param_shapes()
    extra = {f"opt.{s}.{k}": np.zeros(v, np.float32) for s in "mv" for k, v in shapes.items()}
    refused_both_ways(tmp_path, npz_bytes(LSTM, sgd, extra), "sgd training state has at most 3")


def test_a_carried_state_of_another_shape_is_refused(tmp_path, no_array_read):
    extra = {"opt.carry.0": np.zeros((64, 256), np.float32)}
    refused_both_ways(tmp_path, npz_bytes(LSTM, ADAM, extra), r"expected \(2, 4, 64\)")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adam"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_trainers_state_still_loads(tmp_path, cell, optimizer):
    """The bounds are those of what `Trainer.to_checkpoint` writes, carried state included."""
    trainer = tiny_trainer(cell, hidden=8, batch=3, optimizer=optimizer)
    try:
        trainer.run(threading.Event(), steps=2)
    finally:
        trainer.close()
    ckpt = trainer.to_checkpoint()
    save_checkpoint(tmp_path / "m.npz", ckpt)
    for back in (
        load_checkpoint(tmp_path / "m.npz"),
        checkpoint_from_bytes(checkpoint_bytes(ckpt)),
    ):
        assert back.optimizer_state is not None
        assert set(back.optimizer_state) == set(ckpt.optimizer_state or {})


# -- public caps, from meta --------------------------------------------------------------------
POLICY = PublicPolicy.with_corpora([])


@pytest.mark.parametrize(
    "model, train, message",
    [
        ({"embed": 1024}, {}, "embed is capped at 256 on this server (got 1024)"),
        ({}, {"seq_len": 1024}, "seq_len is capped at 128 on this server (got 1024)"),
    ],
)
def test_public_caps_cover_embed_and_bptt_length(model, train, message):
    with pytest.raises(ConfigError) as info:
        POLICY.check(ModelConfig(45, **model), TrainConfig(**train))
    assert str(info.value) == message
    POLICY.check(
        ModelConfig(45, embed=256, hidden=256, layers=2), TrainConfig(seq_len=128, batch=32)
    )


@pytest.mark.parametrize(
    "model, train, message",
    [
        ({**LSTM, "hidden": 256, "layers": 2, "embed": 1024}, ADAM, "embed is capped at 256"),
        ({**LSTM, "hidden": 256}, {**ADAM, "seq_len": 1024}, "seq_len is capped at 128"),
    ],
)
def test_an_upload_beyond_the_caps_is_refused_before_its_arrays(
    tmp_path, no_array_read, model, train, message
):
    (tmp_path / UPLOAD_NAME).write_bytes(npz_bytes(model, train, {}))
    app_train = TrainConfig()

    def caps(m, saved):
        POLICY.check(m, saved or app_train)

    with pytest.raises(ConfigError, match=message):
        public_actions.read_upload(str(tmp_path / UPLOAD_NAME), caps)
    assert not (tmp_path / UPLOAD_NAME).exists()


# -- files that are no .npz -------------------------------------------------------------------
NPY = io.BytesIO()
np.save(NPY, np.zeros(3))


NOT_NPZ = "the uploaded checkpoint is not an .npz checkpoint (not a zip archive)"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"just some text\n", NOT_NPZ),
        (gzip.compress(b"x" * 100), NOT_NPZ),
        (b"", NOT_NPZ),
        (NPY.getvalue(), NOT_NPZ + ": it is a single .npy array"),
    ],
)
def test_an_upload_that_is_no_npz_gets_one_clear_line(tmp_path, data, message):
    path = tmp_path / UPLOAD_NAME
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        public_actions.read_upload(str(path))
    assert str(info.value) == message
    path.write_bytes(data)  # and a file on the command line says the same
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value) == message.replace(
        "the uploaded checkpoint", f"checkpoint {str(path)!r}"
    )


# -- eval ----------------------------------------------------------------------------------------
def test_eval_names_a_corpus_of_another_vocabulary(tmp_path):
    ckpt = tiny_trainer("gru", hidden=8).to_checkpoint()
    save_checkpoint(tmp_path / "zen.npz", ckpt)
    other = tmp_path / "cjk.txt"
    other.write_text("".join(chr(0x4E00 + i % 300) for i in range(3000)), encoding="utf-8")
    out = rnn_tui("eval", str(tmp_path / "zen.npz"), "--corpus", str(other))
    assert_user_error(
        out,
        "cjk.txt' has another vocabulary (300 characters) ",
        f"than the checkpoint ({len(ckpt.vocab)})",
    )


def test_eval_still_scores_a_corpus_that_shares_most_of_the_vocabulary(tmp_path):
    """Characters the checkpoint lacks are misses, counted as unknown: a report says so."""
    ckpt = tiny_trainer("gru", hidden=8).to_checkpoint()
    save_checkpoint(tmp_path / "zen.npz", ckpt)
    other = tmp_path / "accents.txt"
    other.write_text(load_corpus("zen").text.replace("e", "é"), encoding="utf-8")
    out = rnn_tui(
        "eval",
        str(tmp_path / "zen.npz"),
        "--corpus",
        str(other),
        "--max-chars",
        "200",
        "--suggest-chars",
        "0",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert max(m["unknown"] for m in report["models"].values()) > 0
