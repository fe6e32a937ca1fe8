"""The headless CLI: real subprocesses, exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import math

import pytest
from conftest import assert_user_error, rnn_tui


@pytest.fixture(scope="module")
def zen_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "zen.npz"
    out = rnn_tui(
        "train",
        "--corpus",
        "zen",
        "--cell",
        "gru",
        "--hidden",
        "32",
        "--seq-len",
        "16",
        "--batch",
        "8",
        "--lr",
        "0.01",
        "--steps",
        "150",
        "--out",
        str(path),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    return path, json.loads(out.stdout)


def test_train_json_reports_learning(zen_checkpoint):
    path, result = zen_checkpoint
    assert path.exists()
    assert result["step"] == 150
    assert result["model"]["cell"] == "gru" and result["model"]["hidden"] == 32
    assert result["bpc"] < 4.5  # ln(45)/ln 2 = 5.49 bits untrained
    assert result["val_bpc"] is not None


def test_resume_continues_exactly(tmp_path):
    """Train 40 steps, save, resume 40 more == 80 steps straight (same loss, bit for bit).

    With a constant learning rate (--decay 0): a budget's annealing belongs to its own run.
    """
    common = [
        "--corpus",
        "zen",
        "--cell",
        "lstm",
        "--hidden",
        "16",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--decay",
        "0",
    ]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    straight = rnn_tui("train", *common, "--steps", "80", "--out", str(a), "--json")
    first = rnn_tui("train", *common, "--steps", "40", "--out", str(b), "--json")
    resumed = rnn_tui("train", "--resume", str(b), "--steps", "40", "--out", str(b), "--json")
    for out in (straight, first, resumed):
        assert out.returncode == 0, out.stderr
    import numpy as np

    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        for name in ("Wx", "Wh", "b", "Why", "by", "opt.m.Wx", "opt.v.Why"):
            np.testing.assert_array_equal(x[name], y[name])
    assert json.loads(resumed.stdout)["step"] == 80


def test_predict_and_sample(zen_checkpoint):
    path, _ = zen_checkpoint
    out = rnn_tui("predict", str(path), "Beautiful is b", "--top", "5", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    probs = [t["prob"] for t in data["top"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    text = rnn_tui("predict", str(path), "Beautiful")
    assert text.returncode == 0 and "%" in text.stdout
    s1 = rnn_tui("sample", str(path), "--prime", "Beau", "--length", "50", "--seed", "3")
    s2 = rnn_tui("sample", str(path), "--prime", "Beau", "--length", "50", "--seed", "3")
    assert s1.returncode == 0 and s1.stdout == s2.stdout
    assert s1.stdout.startswith("Beau") and len(s1.stdout.rstrip("\n")) >= 54 - 5


def test_predict_with_a_byte_mode_model_reads_and_offers_characters(tmp_path):
    """A model of UTF-8 bytes: the Cyrillic it is given is read (not 'unknown'), and its top
    predictions are characters (п, р, ...), not the bytes D0 and D1 shown as Ð and Ñ."""
    corpus = tmp_path / "ru.txt"
    corpus.write_text("привет мир, пример привета; мир примеру. " * 60, encoding="utf-8")
    ckpt = tmp_path / "ru.npz"
    trained = rnn_tui(
        "train", "--corpus", str(corpus), "--bytes", "--hidden", "16", "--steps", "40",
        "--out", str(ckpt),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    out = rnn_tui("predict", str(ckpt), "при", "--top", "8", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["unknown"] == [] and data["known_chars"] == 3
    chars = [t["char"] for t in data["top"]]
    assert len(chars) == 8 and all(len(c) == 1 for c in chars)
    assert not set(chars) & {"Ð", "Ñ"} and set(chars) & set("вмер")
    probs = [t["prob"] for t in data["top"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9


def test_gradcheck_command():
    out = rnn_tui("gradcheck", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] and len(data["cases"]) == 24
    assert sum(c["case"].startswith("series ") for c in data["cases"]) == 12
    assert all(c["worst"] < 1e-6 for c in data["cases"])


def test_lesson_preset_trains_from_the_cli():
    out = rnn_tui("train", "--preset", "abcde-4", "--steps", "300", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"]["hidden"] == 3


@pytest.mark.parametrize(
    "args,words",
    [
        (["train", "--hidden", "0"], ["hidden", "1 to 1024"]),
        (["train", "--hidden", "1000000"], ["hidden"]),
        (["train", "--lr", "0"], ["lr"]),
        (["train", "--lr", "nan"], ["lr"]),
        (["train", "--steps", "-3"], ["--steps"]),
        (["train", "--layers", "9"], ["layers"]),
        (["train", "--corpus", "/no/such/file.txt"], ["/no/such/file.txt"]),
        (["train", "--preset", "nope"], ["preset"]),
        (["predict", "/no/such.npz", "abc"], ["/no/such.npz"]),
        (["sample", "/no/such.npz", "--temperature", "-1"], []),
        (["train", "--cell", "transformer"], ["cell"]),
    ],
)
def test_bad_input_gets_one_error_line_and_exit_2(args, words):
    assert_user_error(rnn_tui(*args), *words)


def test_sample_temperature_zero_is_greedy(zen_checkpoint):
    path, _ = zen_checkpoint
    a = rnn_tui(
        "sample", str(path), "--prime", "Beautiful is ", "--length", "20", "--temperature", "0"
    )
    b = rnn_tui(
        "sample",
        str(path),
        "--prime",
        "Beautiful is ",
        "--length",
        "20",
        "--temperature",
        "0",
        "--seed",
        "9",
    )
    assert a.returncode == 0 and a.stdout == b.stdout


def test_json_output_is_strict_json_without_nan(capsys):
    """A figure that does not exist (a run stopped before its first step) is null: JSON readers
    refuse NaN and Infinity."""
    from rnn_tui.cli.common import print_json

    print_json({"loss": float("nan"), "curve": [1.5, float("inf")], "val": {"bpc": -math.inf}})
    out = capsys.readouterr().out
    assert json.loads(out) == {"loss": None, "curve": [1.5, None], "val": {"bpc": None}}
    assert "NaN" not in out and "Infinity" not in out


def test_predict_prints_typed_brackets_as_text_on_one_line(tmp_path):
    """Typed and predicted text may hold "[": it is text, not Rich markup (a "[/b]" stopped the
    command with a MarkupError), and a long line piped to a file stays one line."""
    path = tmp_path / "m.npz"
    assert (
        rnn_tui(
            "train", "--corpus", "zen", "--steps", "3", "--hidden", "16", "--out", str(path)
        ).returncode
        == 0
    )
    typed = "x[/b] y[bold]z " + "long_argument_name, " * 6
    out = rnn_tui("predict", str(path), typed, "--model", "net")
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("greedy completion:")]
    assert typed in line
