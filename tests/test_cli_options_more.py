"""Options the sweep found unchecked or mishandled: sampling at tiny temperatures, seeds, bench's
timing options, --max-vocab's range, `eval --text` on any text, and a reader of stdout that leaves.

Only invalid values reach `bench`: a valid one would run the benchmark."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from conftest import ENV, assert_user_error, rnn_tui, tiny_trainer

from rnn_tui.cli.common import whole_number
from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.config import MAX_VOCAB, ModelConfig
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.model import CharModel, ParamSnapshot
from rnn_tui.engine.predict import Predictor

TINY = (1e-3, 1e-6, 5e-324)  # the last: the smallest float above 0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A zen model saved from a trainer (not through `train`, whose options are tested elsewhere)."""
    trainer = tiny_trainer("gru", hidden=32)
    trainer.run(threading.Event(), steps=30)
    path = tmp_path_factory.mktemp("ckpt") / "zen.npz"
    save_checkpoint(path, trainer.to_checkpoint())
    trainer.close()
    return str(path)


# -- sampling at a small temperature -------------------------------------------------------------
def spread_predictor(vocab_size: int) -> Predictor:
    """An untrained GRU whose output weights are scaled up, so the greedy path is clear (its top
    two symbols far apart in log probability) while its top probability stays well below 1: the
    case where p ** (1 / T) underflowed to all zeros."""
    vocab = Vocab(chr(0x3400 + i) for i in range(vocab_size))
    cfg = ModelConfig(vocab_size=vocab_size, cell="gru", hidden=16)
    params = dict(CharModel(cfg, seed=2).params)
    params["Why"] = params["Why"] * 20
    pred = Predictor(ParamSnapshot.of(cfg, vocab, params))
    pred.feed_symbol(0)  # (from the zero state every symbol ties)
    pred.feed_symbol(1)
    return pred


def greedy_margin(pred: Predictor, length: int) -> float:
    """The smallest gap, in log probability, between the top two symbols along the greedy path."""
    model, gaps = pred.lookahead(), []
    for _ in range(length):
        second, first = np.sort(np.log(model.probs))[-2:]
        gaps.append(first - second)
        model.feed_symbol(int(np.argmax(model.probs)))
    return min(gaps)


@pytest.mark.parametrize("vocab_size", [40, MAX_VOCAB])
def test_tiny_temperatures_sample_the_greedy_continuation(vocab_size):
    pred = spread_predictor(vocab_size)
    assert greedy_margin(pred, 30) > 0.03  # e^(-0.03 / 1e-3): the runner-up is never drawn
    assert pred.probs.max() < 0.5  # (0.5 ** 1000 underflows: the old way gave NaN here)
    greedy = pred.greedy(30, stop_at_word_end=False)
    assert len(set(greedy)) > 1  # (a path that goes somewhere, not one symbol repeated)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or a 0/0 on the way fails the test
        for t in TINY:
            assert pred.sample(30, temperature=t, seed=1) == greedy, t


def test_sampling_distribution_is_unchanged_at_ordinary_temperatures():
    """In log space the draw is the same distribution, p ** (1 / T) normalised."""
    pred = spread_predictor(40)
    draws = [pred.sample(1, temperature=0.5, seed=s) for s in range(2000)]
    p = pred.probs.astype(np.float64) ** 2
    p /= p.sum()
    top = pred.vocab.chars[int(np.argmax(p))]
    assert abs(draws.count(top) / len(draws) - p.max()) < 0.05


@pytest.mark.parametrize("temperature", ["0.001", "1e-6"])
def test_sample_command_at_tiny_temperatures_is_greedy_without_warnings(checkpoint, temperature):
    def sample(t: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-W", "error", "-m", "rnn_tui", "sample", checkpoint]
            + ["--model", "net", "--length", "40", "--prime", "Beautiful is "]
            + ["--temperature", t, "--seed", "1"],
            capture_output=True,
            text=True,
            timeout=120,
            env=ENV,
        )

    out, greedy = sample(temperature), sample("0")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    if temperature == "1e-6":  # (at 0.001 a near tie of the tiny model may go either way)
        assert out.stdout == greedy.stdout


# -- seeds -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_sample_seed_outside_train_range_is_one_error(checkpoint, seed):
    assert_user_error(rnn_tui("sample", checkpoint, "--seed", seed), "seed", "4294967295", seed)


def test_gradcheck_negative_seed_is_one_error():
    assert_user_error(rnn_tui("gradcheck", "--seed", "-1"), "seed", "4294967295")


def test_sample_takes_the_largest_seed(checkpoint):
    out = rnn_tui("sample", checkpoint, "--length", "5", "--seed", "4294967295", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["seed"] == 2**32 - 1


# -- bench: refused as the words are parsed, before any benchmark ------------------------------------
@pytest.mark.parametrize(
    "flag, value",
    [
        ("--repeats", "-1"),
        ("--repeats", "0"),
        ("--repeats", "x"),
        ("--rep-seconds", "nan"),
        ("--rep-seconds", "inf"),
        ("--rep-seconds", "0"),
        ("--rep-seconds", "-1"),
        ("--threads", "0"),
        ("--threads", "-1"),
    ],
)
def test_bench_timing_options_are_checked(flag, value):
    out = rnn_tui("bench", "--no-torch", "--skip", "keystroke,startup", flag, value, timeout=30)
    assert_user_error(out, flag, value)
    assert out.stdout == ""


def test_bench_help_gives_the_real_defaults():
    from rnn_tui.cli.bench import FULL, QUICK

    out = rnn_tui("bench", "--help")
    text = " ".join(out.stdout.split())
    assert f"repetitions per row (default {FULL['repeats']}, quick {QUICK['repeats']})" in text
    assert f"seconds per repetition (default {FULL['rep_seconds']:g}" in text


# -- --max-vocab --------------------------------------------------------------------------------
def test_vocab_range_type_gives_the_range():
    parse = whole_number("--max-vocab", 2, MAX_VOCAB)
    assert parse("2") == 2 and parse(str(MAX_VOCAB)) == MAX_VOCAB
    for bad in ("0", "1", str(MAX_VOCAB + 1), "x"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"from 2 to {MAX_VOCAB}"):
            parse(bad)


@pytest.mark.parametrize("value", ["0", "1"])
def test_max_vocab_below_two_gives_the_real_range(value):
    out = rnn_tui("train", "--corpus", "zen", "--steps", "1", "--max-vocab", value)
    assert_user_error(out, "--max-vocab", f"from 2 to {MAX_VOCAB}")


# -- eval --text --------------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["a", "aaaaaaaaaaaaaaaaaaaa", "\ufeffa\r\na\r\n"])
def test_eval_scores_any_non_empty_text(checkpoint, tmp_path, content):
    """A text of one repeated character has nothing to learn, but scoring it is fine."""
    text = tmp_path / "text.txt"
    text.write_bytes(content.encode("utf-8"))
    out = rnn_tui("eval", checkpoint, "--text", str(text), "--suggest-chars", "0", "--json")
    assert out.returncode == 0, out.stderr
    expected = len(content.lstrip("\ufeff").replace("\r\n", "\n"))  # as a corpus file reads
    assert json.loads(out.stdout)["chars"] == expected


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])  # nothing, or a BOM and nothing
def test_eval_empty_text_is_one_error_naming_it(checkpoint, tmp_path, content):
    text = tmp_path / "empty.txt"
    text.write_bytes(content)
    assert_user_error(rnn_tui("eval", checkpoint, "--text", str(text)), "--text", "empty")


def test_eval_text_that_is_not_utf8_or_missing_names_text(checkpoint, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ab\xffcd")
    assert_user_error(rnn_tui("eval", checkpoint, "--text", str(bad)), "--text", "UTF-8")
    missing = str(tmp_path / "missing.txt")
    assert_user_error(rnn_tui("eval", checkpoint, "--text", missing), "--text", "missing.txt")
    assert_user_error(rnn_tui("eval", checkpoint, "--text", str(tmp_path)), "--text", "directory")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # (refused from its stat: opening it would wait for a writer)
    assert_user_error(rnn_tui("eval", checkpoint, "--text", str(fifo)), "--text", "regular")


# -- a reader of stdout that leaves ---------------------------------------------------------------
def to_closed_pipe(*args: str, buffered: bool = True) -> subprocess.CompletedProcess:
    """`rnn-tui ARGS` writing to a pipe whose reader has already gone (`... | head` at its worst):
    every write fails, whatever the timing."""
    env = dict(ENV)
    if buffered:  # (stdout to a pipe is block-buffered unless PYTHONUNBUFFERED says otherwise)
        env.pop("PYTHONUNBUFFERED", None)
    else:
        env["PYTHONUNBUFFERED"] = "1"
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "rnn_tui", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ("presets",),
        ("presets", "--json"),
        ("predict", "{ck}", "hello"),
        ("predict", "{ck}", "hello", "--json"),
        ("sample", "{ck}", "--length", "20"),
        ("eval", "{ck}", "--max-chars", "50", "--suggest-chars", "0"),
        ("eval", "{ck}", "--max-chars", "50", "--suggest-chars", "0", "--json"),
    ],
)
@pytest.mark.parametrize("buffered", [True, False])
def test_every_command_exits_141_when_the_reader_leaves(checkpoint, args, buffered):
    out = to_closed_pipe(*(a.format(ck=checkpoint) for a in args), buffered=buffered)
    assert out.returncode == 141 and out.stderr == "", out


# -- serve ------------------------------------------------------------------------------------------
def test_serve_refuses_a_busy_port_before_announcing_itself():
    pytest.importorskip("textual_serve")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = rnn_tui("serve", "--port", str(port), "--corpus", "zen", timeout=60)
    assert_user_error(out, f"port {port} is in use")
    assert out.stdout == ""  # (it used to say "serving the playground on ..." first)
