"""The type-ahead lab commands: network and baseline measured on the same held-out text."""

from __future__ import annotations

import json

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
    net = Predictor(CharModel(ModelConfig(len(corpus.vocab), cell="rnn", hidden=8)).snapshot(corpus.vocab))
    kn = fit_baseline(corpus, corpus.vocab, order=4)
    result = compare(corpus, {"net": net, "kn": kn}, text)
    assert set(result.reports) == {"net", "kn"}
    assert all(r.chars == len(text) for r in result.reports.values())
    # an untrained network is about uniform; the baseline trained on the rest of zen beats it
    assert result.reports["kn"].bpc < result.reports["net"].bpc


def test_eval_command_side_by_side(tmp_path):
    path = tmp_path / "m.npz"
    assert rnn_tui("train", "--corpus", "zen", "--cell", "rnn", "--hidden", "16", "--steps", "30",
               "--out", str(path)).returncode == 0
    out = rnn_tui("eval", str(path), "--order", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["models"]) == 2 and "kn-3" in data["models"]
    for report in data["models"].values():
        assert report["chars"] == data["chars"] > 0
        assert 0 <= report["top1"] <= report["top3"] <= report["top5"] <= 1
    text = rnn_tui("eval", str(path))
    assert text.returncode == 0 and "keystroke savings" in text.stdout


def test_compare_command_json():
    out = rnn_tui("compare", "--corpus", "zen", "--cell", "rnn", "--hidden", "16", "--seq-len", "8",
              "--batch", "4", "--seconds", "1", "--order", "4", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["steps"] > 0 and set(data["models"]) == {"rnn 16", "kn-4"}


def test_lab_bad_options():
    assert_user_error(rnn_tui("compare", "--order", "12", "--seconds", "1"), "--order")
    assert_user_error(rnn_tui("eval", "/no/file.npz"), "/no/file.npz")
