"""Neurons on the text: the engine's per-step states, the lab's features and ranking, and the
screen driven through the pilot, with a GRU whose unit 5 is built to track "inside quotes"."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.app import RnnTuiApp
from rnn_tui.app.screens.neurons import NeuronsScreen, NeuronText
from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus, make_corpus
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.predict import Predictor, hidden_trace
from rnn_tui.lab.neurons import (
    FEATURES,
    after_space,
    correlations,
    inside_brackets,
    inside_quotes,
    position_in_line,
    rank_units,
)

PLANTED = 5
HIDDEN = 12


def quoted_text(n: int = 4000, seed: int = 0) -> str:
    """Sentences, some with a quotation or a bracket in them (every character a known one)."""
    rng = np.random.default_rng(seed)
    words = "the cat sat on a mat and said that it was fine to wait here for now".split()
    out, size = [], 0
    while size < n:
        w = " ".join(rng.choice(words, rng.integers(3, 8)))
        kind = rng.integers(3)
        s = (
            f'She said "{w}" and left. '
            if kind == 0
            else (f"It ({w}) was so. " if kind == 1 else f"{w}. ")
        )
        out.append(s)
        size += len(s)
    return "".join(out)


def planted_gru(corpus, unit: int = PLANTED, seed: int = 3) -> CharModel:
    """A random GRU whose one unit flips between +1 and -1 on every double quote and holds its
    value between them: n = tanh(r * (-6 h + 3)) takes over (z ~ 0) only on a quote, and
    n(0) = +1, n(+1) = -1, n(-1) = +1: inside quotes +1, after them -1."""
    cfg = ModelConfig(len(corpus.vocab), cell="gru", hidden=HIDDEN)
    model = CharModel(cfg, seed=seed)
    p, H = model.params, HIDDEN
    q = corpus.vocab.id('"')
    for name in ("Wx", "Wh"):
        p[name][:, [unit, H + unit, 2 * H + unit]] = 0.0
    p["Wh"][unit, :] = 0.0  # the unit feeds nothing else: the others stay as random as before
    p["bx"][[unit, H + unit, 2 * H + unit]] = [10.0, 10.0, 0.0]  # r ~ 1, z ~ 1 (hold)
    p["bh"][[unit, H + unit, 2 * H + unit]] = [0.0, 0.0, 3.0]
    p["Wx"][q, H + unit] = -20.0  # a quote: z ~ 0, take n
    p["Wh"][unit, 2 * H + unit] = -6.0
    return model


# -- the engine ------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_hidden_trace_is_the_predictors_state_after_each_character(cell, layers):
    corpus = load_corpus("zen")
    model = CharModel(ModelConfig(len(corpus.vocab), cell=cell, hidden=16, layers=layers), seed=1)
    snap = model.snapshot(corpus.vocab, 0)
    text = corpus.text[:60] + "\u2603"  # a character outside the vocabulary is left out
    trace = hidden_trace(snap, text)
    assert trace.text == corpus.text[:60] and trace.h.shape == (60, 16)
    p = Predictor(snap)
    for t, ch in enumerate(trace.text):
        p.feed(ch)
        np.testing.assert_allclose(trace.h[t], p.hidden, atol=1e-6)
    if cell == "lstm":
        np.testing.assert_allclose(trace.c[-1], p.state[-1][1][0], atol=1e-6)
        assert not np.allclose(trace.c, trace.h)
    else:
        assert trace.c is None


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_byte_mode_trace_has_one_state_per_character(cell):
    """A byte-mode model reads 'é' as two steps: the trace keeps the state after its last byte,
    so the units line up with the characters drawn (and the features computed on them)."""
    from rnn_tui.engine.corpus import make_corpus
    from rnn_tui.engine.encoding import VocabPolicy

    corpus = make_corpus("fr", "déjà vu, café crème. " * 5, VocabPolicy(byte_mode=True))
    model = CharModel(ModelConfig(len(corpus.vocab), cell=cell, hidden=12), seed=2)
    snap = model.snapshot(corpus.vocab, 0)
    text = "vu café déjà \u2603 crème"  # the snowman's bytes are not in the vocabulary: left out
    trace = hidden_trace(snap, text)
    assert trace.text == text.replace("\u2603", "") and trace.h.shape == (len(trace.text), 12)
    p = Predictor(snap)
    for t, ch in enumerate(trace.text):
        p.feed(ch)
        np.testing.assert_allclose(trace.h[t], p.hidden, atol=1e-6)
    for feature in FEATURES.values():
        assert correlations(trace.h, feature(trace.text)).shape == (12,)


def test_hidden_trace_of_no_known_text_is_empty():
    corpus = load_corpus("zen")
    snap = CharModel(ModelConfig(len(corpus.vocab), cell="lstm", hidden=8), seed=1).snapshot(
        corpus.vocab, 0
    )
    trace = hidden_trace(snap, "\u2603")
    assert trace.text == "" and trace.h.shape == (0, 8) and trace.c.shape == (0, 8)


# -- the lab: features and ranking ------------------------------------------------------------
def test_features_of_a_small_text():
    text = 'a "b c" don\'t (d [e]) f\ng'
    q = inside_quotes(text)
    assert (
        "".join(ch for ch, v in zip(text, q, strict=True) if v) == '"b c'
    )  # the closing quote is out
    b = inside_brackets(text)
    assert "".join(ch for ch, v in zip(text, b, strict=True) if v) == "(d [e]"
    assert list(position_in_line(text)[-3:]) == [len(text) - 3 + 1, 0, 1]
    assert list(after_space("a b")) == [0, 1, 0]


def test_an_apostrophe_is_not_a_quote_and_a_stray_quote_ends():
    assert not inside_quotes("don't it's").any()
    assert inside_quotes("'x' y")[:2].all() and not inside_quotes("'x' y")[2:].any()
    assert inside_quotes('"' + "a" * 1000)[-1] == 0  # never closed: stops counting


def test_correlations_and_ranking():
    rng = np.random.default_rng(0)
    f = (rng.random(200) > 0.5).astype(float)
    acts = rng.normal(size=(200, 6)) * 0.1
    acts[:, 4] = -f + 0.01 * rng.normal(size=200)  # follows the feature the other way round
    acts[:, 2] = 0.3  # never changes
    r = correlations(acts, f)
    assert r[4] < -0.99 and r[2] == 0.0
    ranking = rank_units(acts, f)
    assert ranking[0].unit == 4 and ranking[0].correlation < -0.99
    assert [s.unit for s in ranking] == sorted(range(6), key=lambda u: -abs(r[u]))
    assert rank_units(acts, np.ones(200)) == []  # a feature that never changes ranks nothing


def test_a_broken_finder_would_miss_the_planted_unit():
    """The planted unit is found by the real ranking, not by a ranking of anything at all."""
    corpus = make_corpus("quotes", quoted_text())
    model = planted_gru(corpus)
    trace = hidden_trace(model.snapshot(corpus.vocab, 0), corpus.text[:600])
    feature = inside_quotes(trace.text)
    assert 0 < feature.mean() < 1
    best = rank_units(trace.h, feature)[0]
    assert best.unit == PLANTED and best.correlation > 0.9
    assert rank_units(trace.h, after_space(trace.text))[0].unit != PLANTED


# -- the screen ------------------------------------------------------------------------------
def quotes_app(**kw) -> RnnTuiApp:
    corpus = make_corpus("quotes", quoted_text())
    model = planted_gru(corpus)
    train = TrainConfig(seq_len=8, batch=4, lr=0.01)
    ckpt = Checkpoint(
        model.config, corpus.vocab, {k: v.copy() for k, v in model.params.items()}, train
    )
    return RnnTuiApp(corpus, model.config, train, ckpt, start_paused=True, baseline=False, **kw)


pytestmark_async = pytest.mark.asyncio


@pytestmark_async
async def test_neurons_screen_opens_moves_between_units_and_closes():
    app = quotes_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "u")
        screen = app.screen
        assert isinstance(screen, NeuronsScreen)
        view = screen.query_one(NeuronText)
        assert screen.trace.h.shape == (300, HIDDEN) and view.text == screen.trace.text
        assert screen.unit == 0
        await pilot.press("right", "right")
        assert screen.unit == 2
        np.testing.assert_array_equal(view.values, screen.trace.h[:, 2])
        await pilot.press("left", "left", "left")
        assert screen.unit == HIDDEN - 1  # wraps round
        await pilot.pause()
        heading = "".join(s.text for s in view.render_line(0))
        assert f"unit {HIDDEN - 1}/{HIDDEN} (h)" in heading and "mean" in heading
        await pilot.press("escape")
        assert not isinstance(app.screen, NeuronsScreen)


@pytestmark_async
async def test_the_finder_jumps_to_the_planted_inside_quotes_unit():
    app = quotes_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "u")
        screen = app.screen
        assert screen.feature == "inside quotes"
        await pilot.press("f")
        assert screen.unit == PLANTED and screen.found == 0
        assert screen.ranking[0].correlation > 0.5  # the held-out text may begin inside a quote
        await pilot.pause()
        heading = "".join(s.text for s in screen.query_one(NeuronText).render_line(0))
        assert (
            f"unit {PLANTED}/" in heading
            and "with inside quotes" in heading
            and "find #1" in heading
        )
        await pilot.press("f")  # again: the next best
        assert screen.found == 1 and screen.unit == screen.ranking[1].unit != PLANTED
        await pilot.press("e", "f")  # another feature: a new ranking
        assert screen.feature == "inside brackets" and screen.found == 0


@pytestmark_async
async def test_lstm_shows_h_or_c_and_the_text_sources_cycle():
    corpus = load_corpus("zen")
    model = ModelConfig(len(corpus.vocab), cell="lstm", hidden=8)
    app = RnnTuiApp(
        corpus, model, TrainConfig(seq_len=8, batch=4), start_paused=True, baseline=False
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"Beautiful is better than ugly and explicit is better")
        await pilot.press("escape", "u")
        screen = app.screen
        await pilot.press("c")
        assert screen.use_cell
        np.testing.assert_array_equal(screen.query_one(NeuronText).values, screen.trace.c[:, 0])
        await pilot.press("s")  # your typing
        assert screen.trace.text == app.session.text
        await pilot.press("s")  # a sample
        assert len(screen.trace.text) > 100 and screen.trace.text != app.session.text


@pytestmark_async
async def test_no_color_draws_bar_heights_under_the_text(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = quotes_app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "u", "f")
        view = app.screen.query_one(NeuronText)
        await pilot.pause()
        text_row, bar_row = ("".join(s.text for s in view.render_line(y)) for y in (2, 3))
        assert text_row.strip() and set(bar_row.strip()) <= set("▁▂▃▄▅▆▇█")
