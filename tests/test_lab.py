"""The type-ahead lab commands: network and baseline measured on the same held-out text."""

from __future__ import annotations

import json

import pytest
from conftest import assert_user_error, rnn_tui

from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.predict import Predictor
from rnn_tui.lab.evaluate import compare, fit_baseline, held_out_text


def test_compare_measures_both_models_on_the_same_text():
    corpus = load_corpus("zen")
    text = held_out_text(corpus)
    assert text and corpus.text.endswith(text)
    net = Predictor(
        CharModel(ModelConfig(len(corpus.vocab), cell="rnn", hidden=8)).snapshot(corpus.vocab)
    )
    kn = fit_baseline(corpus, corpus.vocab, order=4)
    result = compare(corpus, {"net": net, "kn": kn}, text)
    assert set(result.reports) == {"net", "kn"}
    assert all(r.chars == len(text) for r in result.reports.values())
    # an untrained network is about uniform; the baseline trained on the rest of zen beats it
    assert result.reports["kn"].bpc < result.reports["net"].bpc


def test_eval_command_side_by_side(tmp_path):
    path = tmp_path / "m.npz"
    assert (
        rnn_tui(
            "train",
            "--corpus",
            "zen",
            "--cell",
            "rnn",
            "--hidden",
            "16",
            "--steps",
            "30",
            "--out",
            str(path),
        ).returncode
        == 0
    )
    out = rnn_tui("eval", str(path), "--order", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["models"]) == 3 and {"kn-3", "mixture"} <= set(data["models"])
    for report in data["models"].values():
        assert report["chars"] == data["chars"] > 0
        assert 0 <= report["top1"] <= report["top3"] <= report["top5"] <= 1
        s = report["savings_at"]
        assert set(s) == {"1", "3", "5"} and 0 <= s["1"] <= s["3"] <= s["5"] <= 1
    weights = data["models"]["mixture"]["mean_weights"]
    assert set(weights) == {"network", "kn-3", "text"} and sum(weights.values()) == pytest.approx(1)
    dyn = rnn_tui("eval", str(path), "--order", "3", "--dynamic", "--json", "--suggest-chars", "50")
    assert dyn.returncode == 0, dyn.stderr
    data = json.loads(dyn.stdout)
    assert {"network, dynamic", "mixture, dynamic"} <= set(data["models"])
    assert data["dynamic_scoring_chars_per_sec"] > 0
    text = rnn_tui("eval", str(path))
    assert text.returncode == 0 and "keystroke savings" in text.stdout


def test_compare_command_json():
    out = rnn_tui(
        "compare",
        "--corpus",
        "zen",
        "--cell",
        "rnn",
        "--hidden",
        "16",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--seconds",
        "1",
        "--order",
        "4",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["steps"] > 0 and set(data["models"]) == {
        "rnn 16",
        "kn-4",
        "mixture",
        "network, dynamic",
        "mixture, dynamic",
    }
    steps = rnn_tui(
        "compare",
        "--corpus",
        "zen",
        "--cell",
        "rnn",
        "--hidden",
        "16",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--steps",
        "5",
        "--order",
        "4",
        "--json",
        "--max-chars",
        "60",
    )
    assert steps.returncode == 0, steps.stderr
    assert json.loads(steps.stdout)["steps"] == 5


def test_lab_bad_options():
    assert_user_error(rnn_tui("compare", "--order", "12", "--seconds", "1"), "--order")
    assert_user_error(rnn_tui("eval", "/no/file.npz"), "/no/file.npz")
    assert_user_error(rnn_tui("compare", "--steps", "0"), "--steps")
