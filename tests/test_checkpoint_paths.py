"""Where checkpoints are saved and what corpus they name: non-regular files refused, mode and
symlinks kept, `--out` checked before training, corpus paths that work from any folder, and
crafted meta values refused at load."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from conftest import ENV, assert_user_error, rnn_tui

from rnn_tui.engine.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    check_writable,
    corpus_reference,
    load_checkpoint,
    save_checkpoint,
)
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.errors import CheckpointError

CONFIG = ModelConfig(vocab_size=4, cell="rnn", hidden=4)
TEXT = "the quick brown fox jumps over the lazy dog. " * 40
SMALL = ("--hidden", "16", "--seq-len", "8", "--batch", "4", "--workers", "1")


def make_ckpt(step: int = 1, corpus: str = "zen") -> Checkpoint:
    params = {k: np.full(s, step, np.float32) for k, s in CONFIG.param_shapes().items()}
    return Checkpoint(CONFIG, Vocab("abcd"), params, step=step, corpus=corpus)


def run_in(cwd, *args: str) -> subprocess.CompletedProcess:
    """`rnn-tui ARGS` started in folder `cwd` (relative paths are the point)."""
    return subprocess.run(
        [sys.executable, "-m", "rnn_tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        cwd=cwd,
    )


def rewrite_meta(path, **changes) -> None:
    """Change meta fields of a saved checkpoint (as a hand-made file would)."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"][()]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))  # (ASCII: a surrogate travels as \\ud800)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def corpus_dir(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "normal.txt").write_text(TEXT)
    return tmp_path


# -- what a save may replace ---------------------------------------------------------------


def test_fifo_is_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        save_checkpoint(fifo, make_ckpt())
    with pytest.raises(CheckpointError, match="not a regular file"):
        check_writable(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temp file left


def test_train_out_fifo_refused_before_training(corpus_dir):
    fifo = corpus_dir / "fifo"
    os.mkfifo(fifo)
    out = rnn_tui("train", "--corpus", str(corpus_dir / "c" / "normal.txt"), *SMALL,
                  "--steps", "5", "--out", str(fifo))  # fmt: skip
    assert_user_error(out, "fifo", "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(path, make_ckpt(1))
    os.chmod(path, 0o600)
    save_checkpoint(path, make_ckpt(2))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_checkpoint(path).step == 2


def test_save_goes_through_a_symlink(tmp_path):
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    target, link = real_dir / "m.npz", link_dir / "m.npz"
    save_checkpoint(target, make_ckpt(1))
    os.chmod(target, 0o640)
    link.symlink_to(target)
    save_checkpoint(link, make_ckpt(2))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_checkpoint(target).step == 2
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    # the temp file was made (and renamed) in the target's folder: nothing left in either
    assert [p.name for p in real_dir.iterdir()] == ["m.npz"]
    assert [p.name for p in link_dir.iterdir()] == ["m.npz"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "new.npz")
    save_checkpoint(link, make_ckpt(3))
    assert link.is_symlink() and load_checkpoint(tmp_path / "new.npz").step == 3


# -- --out checked before the run ------------------------------------------------------------


@pytest.mark.parametrize(
    "out, words",
    [
        ("nodir/x.npz", ["nodir", "does not exist"]),
        ("c", ["'c'", "folder"]),
        ("c/", ["'c/'", "folder"]),
        ("c/normal.txt/x.npz", ["c/normal.txt/x.npz"]),
        ("", ["empty"]),
    ],
)
def test_bad_out_is_refused_before_training(corpus_dir, out, words):
    # A billion steps: had training started, the command would not come back with one line.
    # assert_user_error also checks stderr is that line only: no "training ..." line came first.
    out_ = run_in(corpus_dir, "train", "--corpus", "c/normal.txt", *SMALL,
                  "--steps", "1000000000", "--out", out)  # fmt: skip
    assert_user_error(out_, *words)
    assert sorted(p.name for p in corpus_dir.iterdir()) == ["c"]


def test_check_writable_accepts_new_and_existing_files(tmp_path):
    check_writable(tmp_path / "new.npz")
    save_checkpoint(tmp_path / "old.npz", make_ckpt())
    check_writable(tmp_path / "old.npz")


# -- the corpus a checkpoint names ---------------------------------------------------------


def test_builtin_names_stay_names_and_files_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert corpus_reference("zen") == "zen" and corpus_reference("") == ""
    assert corpus_reference("c/normal.txt") == str(tmp_path / "c" / "normal.txt")
    save_checkpoint("m.npz", make_ckpt(corpus="c/normal.txt"))
    assert load_checkpoint("m.npz").corpus == str(tmp_path / "c" / "normal.txt")


def test_trained_checkpoint_evaluates_from_another_folder(corpus_dir, tmp_path_factory):
    out = run_in(corpus_dir, "train", "--corpus", "c/normal.txt", *SMALL,
                 "--steps", "5", "--out", "m.npz")  # fmt: skip
    assert out.returncode == 0, out.stderr
    # another folder with a c/normal.txt of its own: it must not be the one scored
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "c").mkdir()
    (elsewhere / "c" / "normal.txt").write_text("zzzz yyyy " * 50)
    ev = run_in(elsewhere, "eval", str(corpus_dir / "m.npz"), "--json")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["corpus"] == str(corpus_dir / "c" / "normal.txt")


def test_older_relative_corpus_is_found_beside_the_checkpoint(
    corpus_dir, tmp_path_factory, monkeypatch
):
    path = corpus_dir / "m.npz"
    save_checkpoint(path, make_ckpt())
    rewrite_meta(path, corpus="c/normal.txt")  # as checkpoints recorded it before
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "c").mkdir()
    (elsewhere / "c" / "normal.txt").write_text("another text")
    monkeypatch.chdir(elsewhere)
    assert load_checkpoint(path).corpus == str(corpus_dir / "c" / "normal.txt")
    # not beside the checkpoint: as recorded, so from the current folder
    (corpus_dir / "c" / "normal.txt").unlink()
    assert load_checkpoint(path).corpus == "c/normal.txt"


# -- crafted meta values ---------------------------------------------------------------------


@pytest.fixture
def crafted(tmp_path):
    """(checkpoint with a NUL in its corpus name, with a surrogate in its vocabulary, with a
    surrogate in its corpus name)"""
    nul, sur_vocab, sur_corpus = (tmp_path / n for n in ("nul.npz", "sv.npz", "sc.npz"))
    for p in (nul, sur_corpus):
        save_checkpoint(p, make_ckpt())
    rewrite_meta(nul, corpus="c/two.txt\x00")
    rewrite_meta(sur_corpus, corpus="c/\ud800.txt")
    config = ModelConfig(vocab_size=2, cell="rnn", hidden=4)
    meta = {"format_version": FORMAT_VERSION, "model": config.to_dict(), "train": None,
            "vocab": ["a", "\ud800"], "step": 1, "corpus": "zen", "seed": 0}  # fmt: skip
    params = {k: np.zeros(s, np.float32) for k, s in config.param_shapes().items()}
    np.savez(sur_vocab, meta=np.array(json.dumps(meta)), **params)
    return str(nul), str(sur_vocab), str(sur_corpus)


def test_crafted_meta_is_refused_at_load(crafted):
    nul, sur_vocab, sur_corpus = crafted
    for path, pattern in ((nul, "NUL"), (sur_vocab, "surrogate"), (sur_corpus, "surrogate")):
        with pytest.raises(CheckpointError, match=pattern) as info:
            load_checkpoint(path)
        assert "\n" not in str(info.value) and path in str(info.value)


@pytest.mark.parametrize(
    "command",
    [
        ("predict", "{}", "ab", "--json"),
        ("sample", "{}", "--length", "20"),
        ("eval", "{}"),
        ("train", "--resume", "{}", "--steps", "1", "--workers", "1"),
    ],
)
def test_crafted_meta_gets_one_error_line(crafted, command):
    nul, sur_vocab, _ = crafted
    for path, word in ((nul, "NUL"), (sur_vocab, "surrogate")):
        out = rnn_tui(*(a.format(path) for a in command))
        assert_user_error(out, word)
