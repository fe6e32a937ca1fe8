"""The engine's math: gradients, sanity numbers, determinism, optimizers, trainer and predictor."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from conftest import tiny_trainer

from rnn_tui.engine.cells import RECURRENCES
from rnn_tui.engine.config import CELLS, ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.gradcheck import (
    TOLERANCE,
    check_model,
    numeric_gradient,
    relative_error,
    standard_cases,
)
from rnn_tui.engine.loop import LossHistory
from rnn_tui.engine.model import CharModel, chunk_bytes
from rnn_tui.engine.optim import budget_lr_scale, clip_global_norm_, global_norm, make_optimizer
from rnn_tui.engine.predict import Predictor, softmax
from rnn_tui.engine.trainer import Trainer
from rnn_tui.lab.presets import PRESETS, lesson_accuracy, lesson_batches, preset_configs

CASES = list(standard_cases())


@pytest.mark.parametrize("case,config", CASES, ids=[c for c, _ in CASES])
def test_gradients_match_finite_differences(case, config):
    errors = check_model(config, seed=1)
    # every parameter tensor and the initial state of every layer is checked
    assert set(errors) == set(config.param_shapes()) | {
        f"state0[{l}]" for l in range(config.layers)
    }
    bad = {k: v for k, v in errors.items() if not v < TOLERANCE}
    assert not bad, f"{case}: {bad}"


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_with_lesson_mask(cell):
    """Targets < 0 do not count (lessons score the last step only): the gradient must agree."""
    config = ModelConfig(vocab_size=5, cell=cell, hidden=3)
    model = CharModel(config, seed=2, dtype=np.float64)
    rng = np.random.default_rng(3)
    inputs = rng.integers(0, 5, size=(4, 2))
    targets = np.full((4, 2), -1)
    targets[-1] = [1, 4]
    state = model.zero_state(2)
    model.loss_and_grads(inputs, targets, state)
    for name, value in model.params.items():
        analytic = model.grads[name].copy()
        numeric = numeric_gradient(lambda: model.loss(inputs, targets, state)[0], value)
        assert relative_error(analytic, numeric) < TOLERANCE, name


def test_gradient_check_catches_a_wrong_gradient():
    """The reference must decide: a deliberately broken backward pass fails the check."""
    config = ModelConfig(vocab_size=5, cell="rnn", hidden=4)
    original = RECURRENCES["rnn"].backward

    def broken(self, dhs, Wh, dWh, dbh=None):
        dA, dh = original(self, dhs, Wh, dWh, dbh)
        dWh *= 1.01
        return dA, dh

    RECURRENCES["rnn"].backward = broken
    try:
        errors = check_model(config)
    finally:
        RECURRENCES["rnn"].backward = original
    assert errors["Whh"] > 1e-3
    assert errors["Wxh"] < TOLERANCE


def test_vanilla_cell_is_the_textbook_equation():
    """h_t = tanh(x_t Wxh + h_{t-1} Whh + bh), y_t = softmax(h_t Why + by), same weights every step."""
    config = ModelConfig(vocab_size=6, cell="rnn", hidden=5)
    model = CharModel(config, seed=4, dtype=np.float64)
    p = model.params
    ids = [1, 3, 0, 5, 2]
    h = np.zeros(5)
    loss = 0.0
    for t in range(len(ids) - 1):
        x = np.eye(6)[ids[t]]
        h = np.tanh(x @ p["Wxh"] + h @ p["Whh"] + p["bh"])
        y = softmax(h @ p["Why"] + p["by"])
        loss -= math.log(y[ids[t + 1]])
    inputs = np.array(ids[:-1])[:, None]
    targets = np.array(ids[1:])[:, None]
    got, _ = model.loss(inputs, targets, model.zero_state(1))
    assert got == pytest.approx(loss / (len(ids) - 1), rel=1e-12)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_lstm_and_gru_follow_pytorch_equations():
    """One step of each cell against PyTorch's documented equations, written out plainly."""
    rng = np.random.default_rng(5)
    H, B = 3, 2
    x_proj = rng.standard_normal((1, B, 4 * H))  # x W_ih + b
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wh = rng.standard_normal((H, 4 * H))
    lstm = RECURRENCES["lstm"](H, np.float64)
    h1 = lstm.forward(x_proj.copy(), np.stack([h0, c0]), Wh)[0]
    pre = x_proj[0] + h0 @ Wh
    i, f, g, o = (
        _sig(pre[:, :H]),
        _sig(pre[:, H : 2 * H]),
        np.tanh(pre[:, 2 * H : 3 * H]),
        _sig(pre[:, 3 * H :]),
    )
    c1 = f * c0 + i * g
    np.testing.assert_allclose(h1, o * np.tanh(c1), rtol=1e-12)
    np.testing.assert_allclose(lstm.final_state()[1], c1, rtol=1e-12)

    gx = rng.standard_normal((1, B, 3 * H))  # x W_ih + b_ih
    Wh3, bh = rng.standard_normal((H, 3 * H)), rng.standard_normal(3 * H)
    gru = RECURRENCES["gru"](H, np.float64)
    h1 = gru.forward(gx.copy(), h0, Wh3, bh)[0]
    gh = h0 @ Wh3 + bh
    r = _sig(gx[0, :, :H] + gh[:, :H])
    z = _sig(gx[0, :, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gx[0, :, 2 * H :] + r * gh[:, 2 * H :])
    np.testing.assert_allclose(h1, (1 - z) * n + z * h0, rtol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_are_stable_at_extreme_preactivations(cell):
    H = 2
    layer = RECURRENCES[cell](H, np.float32)
    P = np.array([[[-1e4, 1e4] * (layer.G // 2)]], dtype=np.float32)
    state0 = np.zeros(layer.state_shape(1), np.float32)
    bh = np.zeros(layer.G, np.float32)
    h = layer.forward(P, state0, np.zeros((H, layer.G), np.float32), bh)
    assert np.all(np.isfinite(h)) and np.all(np.abs(h) <= 1)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embed", [0, 8])
def test_untrained_loss_is_about_ln_vocab(cell, embed):
    config = ModelConfig(vocab_size=40, cell=cell, hidden=32, layers=2, embed=embed)
    model = CharModel(config, seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 40, (16, 8)), rng.integers(0, 40, (16, 8))
    loss, state = model.loss(inputs, targets, model.zero_state(8))
    assert loss == pytest.approx(math.log(40), abs=0.05)
    assert all(s.dtype == np.float32 for s in state)
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_chunk_probabilities_sum_to_one():
    config = ModelConfig(vocab_size=7, cell="gru", hidden=6)
    model = CharModel(config, seed=0)
    inputs = np.zeros((3, 2), dtype=np.int32)
    model.loss(inputs, inputs, model.zero_state(2))
    probs = model._ws[(3, 2)].logits
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_chunked_forward_equals_one_long_forward():
    """Carrying the hidden state from chunk to chunk is exactly one long sequence."""
    config = ModelConfig(vocab_size=9, cell="lstm", hidden=8, layers=2)
    model = CharModel(config, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, (13, 3))
    whole, _ = model.loss(ids[:-1], ids[1:], model.zero_state(3))
    state, total = model.zero_state(3), 0.0
    for a, b in [(0, 5), (5, 12)]:
        loss, state = model.loss(ids[a:b], ids[a + 1 : b + 1], state)
        total += loss * (b - a)
    assert total / 12 == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("T", [1, 40])
def test_a_keystroke_step_is_the_chunk_forward_bit_for_bit(cell, T):
    """Recurrence.step (the predictor's) and forward (training's) agree exactly, step by step."""
    H = 24
    rng = np.random.default_rng(3)
    rec = RECURRENCES[cell](H, np.float32)
    G = rec.G
    Wx, bx = (
        rng.standard_normal((10, G)).astype(np.float32),
        rng.standard_normal(G).astype(np.float32),
    )
    Wh = (rng.standard_normal((H, G)) * 0.3).astype(np.float32)
    bh = rng.standard_normal(G).astype(np.float32) if cell == "gru" else None
    Wx_in, b_in = rec.input_params(Wx, bx, bh)
    P = (rng.standard_normal((T, 1, 10)).astype(np.float32) @ Wx_in + b_in).astype(np.float32)
    state0 = (rng.standard_normal(rec.state_shape(1)) * 0.5).astype(np.float32)
    hs = rec.forward(P.copy(), state0, Wh, bh, prepared=True).copy()
    stepper, state = RECURRENCES[cell](H, np.float32), state0.copy()
    W = stepper.recurrent_params(Wh)
    for t in range(T):
        np.testing.assert_array_equal(stepper.step(P[t], state, W, bh), hs[t])
    np.testing.assert_array_equal(state, rec.final_state())


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("layers", "embed"), [(1, 0), (2, 5)])
def test_chunk_bytes_bounds_what_a_chunk_keeps_before_it_is_made(cell, layers, embed):
    """The memory estimate (worked out from the config alone) against the buffers a forward and
    backward pass really keeps: at most, and not far over."""
    T, B = 12, 5
    config = ModelConfig(vocab_size=7, cell=cell, hidden=16, layers=layers, embed=embed)
    model = CharModel(config, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 7, (T, B)), rng.integers(0, 7, (T, B))
    model.loss_and_grads(x, y, model.zero_state(B))

    def arrays(obj) -> int:
        return sum(v.nbytes for v in vars(obj).values() if isinstance(v, np.ndarray))

    kept = arrays(model._ws[(T, B)])
    kept += sum(a.nbytes for bufs in model.stack._bufs.values() for a in bufs.P + bufs.dH)
    for layer in model.stack.layers:  # what grows with the chunk (not views, not the weights)
        kept += sum(
            v.nbytes
            for v in layer._sets[(T, B)].values()
            if getattr(v, "ndim", 0) >= 3 and v.base is None
        )
    estimate = chunk_bytes(config, T, B)
    assert kept <= estimate <= 1.15 * kept

    # a forward pass alone (validation) writes only some of them: the others stay all zeros
    fresh = CharModel(config, seed=0)
    fresh.loss(x, y, fresh.zero_state(B))
    buffers = [*vars(fresh._ws[(T, B)]).values()]
    buffers += [a for bufs in fresh.stack._bufs.values() for a in bufs.P + bufs.dH]
    for layer in fresh.stack.layers:
        buffers += [v for v in layer._sets[(T, B)].values() if getattr(v, "ndim", 0) >= 3]
    written = sum(
        v.nbytes for v in buffers if isinstance(v, np.ndarray) and v.base is None and np.any(v)
    )
    forward = chunk_bytes(config, T, B, backward=False)
    assert written <= forward <= 1.15 * written


def test_a_step_too_big_for_the_free_memory_is_refused_before_anything_is_made(monkeypatch):
    from rnn_tui.engine import trainer as trainer_module

    corpus = load_corpus("zen")
    config = ModelConfig(vocab_size=len(corpus.vocab), cell="gru", hidden=64)
    train = TrainConfig(seq_len=32, batch=8)
    need = chunk_bytes(config, 32, 8)
    monkeypatch.setattr(trainer_module, "available_memory", lambda: need - 1)
    with pytest.raises(ConfigError, match=r"needs about [0-9.]+ MB of memory.*--batch"):
        Trainer(corpus, config, train)
    monkeypatch.setattr(trainer_module, "available_memory", lambda: need)
    Trainer(corpus, config, train)  # fits
    with pytest.raises(ConfigError):  # with replicas, the trainer keeps a whole batch more
        Trainer(corpus, config, train, workers=2)
    monkeypatch.setattr(trainer_module, "available_memory", lambda: None)  # not known: trains
    Trainer(corpus, config, train, workers=1)


@pytest.mark.parametrize("cell", CELLS)
def test_a_layer_that_switches_chunk_shapes_computes_what_a_fresh_one_does(cell):
    """A layer keeps buffers (and the GRU its per-step views of them) for each (T, B) it meets:
    back at a shape after another one, forward and backward are a fresh layer's, bit for bit."""
    H = 16
    rng = np.random.default_rng(11)
    G = RECURRENCES[cell](H, np.float32).G
    Wh = (rng.standard_normal((H, G)) * 0.2).astype(np.float32)
    bh = rng.standard_normal(G).astype(np.float32) if cell == "gru" else None

    def run(rec, T, B, seed):
        r = np.random.default_rng(seed)
        P = r.standard_normal((T, B, G)).astype(np.float32)
        state0 = (r.standard_normal(rec.state_shape(B)) * 0.5).astype(np.float32)
        dhs = r.standard_normal((T, B, H)).astype(np.float32)
        hs = rec.forward(P, state0, Wh, bh, for_backward=True).copy()
        dWh, dbh = np.zeros_like(Wh), np.zeros(G, np.float32)
        dP, dstate = rec.backward(dhs, Wh, dWh, dbh)
        return hs, dP.copy(), dstate.copy(), dWh, dbh

    rec = RECURRENCES[cell](H, np.float32)
    for T, B, seed in [(6, 3, 1), (4, 5, 2), (1, 1, 3), (6, 3, 4)]:
        got = run(rec, T, B, seed)
        fresh = run(RECURRENCES[cell](H, np.float32), T, B, seed)
        for a, b in zip(got, fresh, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("cell", "H"), [("rnn", 512), ("lstm", 256), ("gru", 512), ("rnn", 256)])
def test_the_time_loop_multiplies_by_padded_weights_and_gets_the_same_states(cell, H):
    """A chunk long enough multiplies by the loop's own copy of Wh, whose rows are padded when they
    are a multiple of 2 KB long (LSTM 256: 4 KB rows, which put OpenBLAS's repacking reads into the
    same cache sets), and the copy changes no bit: the states are the keystroke step's over the
    weights as they are. A 1 KB row (rnn 256) is read where it is."""
    T = 160
    rng = np.random.default_rng(5)
    rec = RECURRENCES[cell](H, np.float32)
    G = rec.G
    Wh = (rng.standard_normal((H, G)) * 0.05).astype(np.float32)
    bh = (rng.standard_normal(G) * 0.1).astype(np.float32) if cell == "gru" else None
    Wx_in, b_in = rec.input_params(np.eye(G, dtype=np.float32), np.zeros(G, np.float32), bh)
    P = (rng.standard_normal((T, 1, G)).astype(np.float32) @ Wx_in + b_in).astype(np.float32)
    state0 = np.zeros(rec.state_shape(1), np.float32)
    hs = rec.forward(P.copy(), state0, Wh, bh, prepared=True).copy()
    W, _ = rec._recurrent_weights(Wh, T, 1)
    if G * 4 % 2048 == 0:
        assert W.strides[0] > G * 4 and W.strides[0] % 2048 != 0
    else:
        assert W.strides[0] == G * 4
    stepper, state = RECURRENCES[cell](H, np.float32), state0.copy()
    W1 = stepper.recurrent_params(Wh)
    assert W1.strides[0] == G * 4  # the step reads the weights as they are
    for t in range(T):
        np.testing.assert_array_equal(stepper.step(P[t], state, W1, bh), hs[t])


@pytest.mark.parametrize("cell", CELLS)
def test_predictor_matches_the_training_forward(cell):
    """One keystroke at a time gives the same distributions as the batched chunk forward."""
    config = ModelConfig(vocab_size=5, cell=cell, hidden=6, layers=2, embed=3)
    corpus = load_corpus("abcde")
    model = CharModel(config, seed=7)
    pred = Predictor(model.snapshot(corpus.vocab))
    text = "abcdeab"
    ids = corpus.vocab.encode(text)
    model.loss(ids[:-1, None], ids[1:, None], model.zero_state(1))
    chunk_probs = model._ws[(len(ids) - 1, 1)].logits
    for t, ch in enumerate(text[:-1]):
        assert pred.feed(ch)
        np.testing.assert_allclose(pred.probs, chunk_probs[t], rtol=1e-4, atol=1e-6)
    assert pred.probs.sum() == pytest.approx(1.0)
    whole = Predictor(model.snapshot(corpus.vocab))
    assert whole.feed_text(text[:-1] + "Z") == len(text) - 1  # one chunk; the unknown Z skipped
    np.testing.assert_allclose(whole.probs, pred.probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(whole.hidden, pred.hidden, rtol=1e-5, atol=1e-7)
    scored = Predictor(model.snapshot(corpus.vocab))
    dists = scored.feed_scored("Z" + text[:-1])
    assert dists.shape == (len(text), 5)
    np.testing.assert_allclose(dists[1:-1], chunk_probs[: len(text) - 2], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dists[-1], pred.probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scored.probs, pred.probs, rtol=1e-5, atol=1e-7)
    whole.feed("a")
    pred.feed("a")
    np.testing.assert_allclose(whole.probs, pred.probs, rtol=1e-5, atol=1e-7)


def test_predictor_unknown_chars_top_k_greedy_sample():
    corpus = load_corpus("abcde")
    config = ModelConfig(vocab_size=5, cell="rnn", hidden=8)
    pred = Predictor(CharModel(config, seed=0).snapshot(corpus.vocab))
    pred.feed_text("ab")
    before = pred.probs.copy()
    assert not pred.feed("Z")  # unknown: skipped, state unchanged
    np.testing.assert_array_equal(pred.probs, before)
    top = pred.top_k(3)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert len(top) == 3 and top[0][1] == pytest.approx(before.max())
    hidden = pred.hidden.copy()
    g = pred.greedy(10, stop_at_word_end=False)
    assert len(g) == 10 and set(g) <= set("abcde")
    np.testing.assert_array_equal(pred.hidden, hidden)  # greedy does not move the state
    assert pred.sample(20, temperature=0.8, seed=1) == pred.sample(20, temperature=0.8, seed=1)
    assert pred.sample(10, temperature=0) == g
    twin = pred.clone()
    twin.feed("c")
    np.testing.assert_array_equal(pred.hidden, hidden)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_byte_mode_models_top_k_is_of_whole_characters(seed):
    """top_k of a model of UTF-8 bytes lists characters, each with the product of its bytes'
    probabilities, each given the ones before: brute force over every character these bytes
    make (2 ASCII, 3 of 2 bytes after C3 as in 'é', 9 of 3 bytes after E6 as in '日')."""
    import itertools

    from rnn_tui.engine.corpus import Vocab

    vocab = Vocab(sorted({chr(b) for b in "a é日".encode()}), symbols="bytes")
    config = ModelConfig(vocab_size=len(vocab), cell="gru", hidden=8)
    pred = Predictor(CharModel(config, seed=seed).snapshot(vocab))
    pred.feed_text("é a日")
    follow = [0x97, 0xA5, 0xA9]
    sequences = [[0x20], [0x61], *([0xC3, c] for c in follow)]
    sequences += [[0xE6, c, d] for c, d in itertools.product(follow, repeat=2)]
    expected = []
    for seq in sequences:
        m, p = pred.clone(), 1.0
        for b in seq:
            i = vocab.symbol_ids(chr(b))[0]
            p *= float(m.probs[i])
            m.feed_symbol(i)
        expected.append((bytes(seq).decode(), p))
    expected.sort(key=lambda cp: -cp[1])
    for k in (3, 14):
        top = pred.top_k(k)
        assert [c for c, _ in top] == [c for c, _ in expected[:k]]
        np.testing.assert_allclose([p for _, p in top], [p for _, p in expected[:k]], rtol=1e-6)
    assert "é" in dict(pred.top_k(14)) and "日" in dict(pred.top_k(14))


def test_a_byte_mode_continuation_counts_characters_and_never_ends_inside_one():
    """greedy and sample give n characters, whatever their bytes; and a run of bytes cut after
    the first bytes of a character loses them instead of showing U+FFFD."""
    from rnn_tui.engine.corpus import Vocab
    from rnn_tui.engine.predict import NextCharModel, whole_characters

    vocab = Vocab(sorted({chr(b) for b in "a é日".encode()}), symbols="bytes")
    ids = {b: vocab.symbol_ids(chr(b))[0] for b in "a é日".encode()}
    a, c3, a9, e6, x97, a5 = (ids[b] for b in (0x61, 0xC3, 0xA9, 0xE6, 0x97, 0xA5))
    assert whole_characters(vocab, [a, c3]) == [a]
    assert whole_characters(vocab, [a, e6, x97]) == [a]
    assert whole_characters(vocab, [a, e6, x97, a5]) == [a, e6, x97, a5]
    assert whole_characters(vocab, [c3, a9]) == [c3, a9] and whole_characters(vocab, []) == []

    class Cycle(NextCharModel):  # sure of the next byte: those of "aé日", round and round
        def __init__(self):
            self.vocab, self.i = vocab, 0
            self.order = [vocab.symbol_ids(chr(b))[0] for b in "aé日".encode()]

        def reset(self):
            self.i = 0

        def feed_symbol(self, i):
            self.i += 1

        @property
        def probs(self):
            p = np.zeros(len(vocab))
            p[self.order[self.i % len(self.order)]] = 1.0
            return p

        def clone(self):
            twin = Cycle()
            twin.i = self.i
            return twin

    for n, expected in enumerate(["", "a", "aé", "aé日", "aé日a", "aé日aé"]):  # n characters
        assert Cycle().greedy(n, stop_at_word_end=False) == expected
        assert Cycle().sample(n, seed=0) == expected  # (the only byte it may draw)


def test_optimizers_reduce_a_quadratic():
    for name, lr in {"sgd": 0.1, "momentum": 0.02, "adagrad": 0.5, "adam": 0.1}.items():
        params = {"w": np.array([3.0, -2.0])}
        opt = make_optimizer(name, params, lr)
        for _ in range(300):
            opt.step({"w": 2 * params["w"]})  # gradient of |w|^2
        assert np.abs(params["w"]).max() < 0.3, name


def test_adam_first_step_moves_each_weight_by_lr():
    params = {"w": np.array([1.0, 1.0])}
    opt = make_optimizer("adam", params, 0.01)
    opt.step({"w": np.array([5.0, -0.001])})
    np.testing.assert_allclose(params["w"], [0.99, 1.01], rtol=1e-5)


def test_global_norm_clipping():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    norm = global_norm(grads)
    assert norm == 5.0
    clip_global_norm_(grads, 1.0, norm)
    assert global_norm(grads) == pytest.approx(1.0)
    grads = {"a": np.array([0.3])}
    assert clip_global_norm_(grads, 1.0, 0.3) == 1.0 and grads["a"][0] == 0.3


def test_loss_history_stays_bounded_and_keeps_the_whole_curve():
    h = LossHistory(10)
    for i in range(1000):
        h.add(float(i))
    assert 5 <= len(h.values()) <= 10
    assert h.values() == tuple(sorted(h.values()))
    assert h.values()[0] < 100


def test_same_seed_same_loss_curve_bit_for_bit():
    a, b = tiny_trainer(seed=3), tiny_trainer(seed=3)
    la = [a.train_step() for _ in range(20)]
    lb = [b.train_step() for _ in range(20)]
    assert la == lb
    c = tiny_trainer(seed=4)
    assert [c.train_step() for _ in range(20)] != la


def test_training_lowers_the_loss_on_zen():
    trainer = tiny_trainer(lr=1e-2)
    first = trainer.validate()
    for _ in range(300):
        trainer.train_step()
    assert trainer.smoothed_loss < math.log(len(trainer.corpus.vocab)) - 1.0
    assert trainer.validate() < first - 0.5


def test_run_publishes_progress_and_stops_on_event():
    trainer = tiny_trainer()
    stop = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p)
        if len(seen) == 3:
            stop.set()

    final = trainer.run(stop, on_progress, interval=0.0, val_interval=0)
    assert final.state == "stopped" and final.step == trainer.step
    assert all(p.snapshot is not None for p in seen)
    snap = seen[0].snapshot
    with pytest.raises(ValueError):
        snap.params["Whh"][0, 0] = 1.0  # snapshots are read-only copies
    assert seen[0].snapshot.step < final.step


def test_pause_stops_steps_and_step_once_advances_one():
    trainer = tiny_trainer()
    trainer.pause()
    stop = threading.Event()
    thread = threading.Thread(target=trainer.run, args=(stop,), kwargs={"val_interval": 0})
    thread.start()
    try:
        threading.Event().wait(0.2)
        assert trainer.step == 0
        trainer.step_once()
        for _ in range(100):
            if trainer.step == 1:
                break
            threading.Event().wait(0.02)
        threading.Event().wait(0.15)
        assert trainer.step == 1
        trainer.resume()
        for _ in range(100):
            if trainer.step > 5:
                break
            threading.Event().wait(0.02)
        assert trainer.step > 5
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_divergence_rolls_back_and_lowers_the_learning_rate():
    trainer = tiny_trainer()
    for _ in range(3):
        trainer.train_step()
    trainer.snapshot()
    good = {k: v.copy() for k, v in trainer.model.params.items()}
    trainer.model.params["Why"][0, 0] = np.nan  # as if an update had blown up
    lr = trainer.lr
    trainer.train_step()
    assert trainer.skipped_steps == 1
    assert trainer.lr == lr / 2
    assert "diverged" in trainer.message
    for k, v in trainer.model.params.items():
        np.testing.assert_array_equal(v, good[k])
    assert math.isfinite(trainer.train_step())


def test_set_lr_applies_at_the_next_step_and_validates():
    trainer = tiny_trainer()
    trainer.set_lr(0.5)
    trainer.train_step()
    assert trainer.lr == 0.5
    with pytest.raises(ConfigError):
        trainer.set_lr(-1.0)


def test_budget_lr_scale_is_constant_then_a_line_to_zero():
    assert [budget_lr_scale(d, 0.5) for d in (0.0, 0.25, 0.5, 0.75, 1.0)] == [
        1.0,
        1.0,
        1.0,
        0.5,
        0.0,
    ]
    assert budget_lr_scale(0.9, 1.0) == pytest.approx(0.1)
    assert budget_lr_scale(0.99, 0.0) == 1.0  # no decay: constant


def _lrs_of_run(trainer, **budget):
    """The learning rate of every step of one run(), as the optimizer saw it."""
    seen = []
    step = trainer.optimizer.step

    def spy(grads):
        seen.append(trainer.optimizer.lr)
        step(grads)

    trainer.optimizer.step = spy
    trainer.run(threading.Event(), val_interval=0, **budget)
    return seen


def test_a_budgeted_run_anneals_its_last_part_and_keeps_the_users_rate():
    trainer = tiny_trainer(lr=0.01, decay=0.5)
    lrs = _lrs_of_run(trainer, steps=10)
    assert lrs[:6] == [0.01] * 6  # steps 0..5 of 10: done <= 0.5
    assert lrs[6:] == pytest.approx([0.008, 0.006, 0.004, 0.002])
    assert trainer.to_checkpoint().train_config.lr == 0.01  # the rate to resume from, not the last
    assert _lrs_of_run(trainer, steps=4)[0] == 0.01  # each run anneals its own budget
    trainer.set_lr(0.02)
    assert _lrs_of_run(trainer, steps=2) == pytest.approx(
        [0.02, 0.02]
    )  # the user's rate is the base
    assert _lrs_of_run(tiny_trainer(lr=0.01, decay=0.0), steps=5) == [0.01] * 5


def test_an_open_ended_run_keeps_the_rate():
    trainer = tiny_trainer(lr=0.01)
    stop = threading.Event()
    seen = []
    step = trainer.optimizer.step

    def spy(grads):
        seen.append(trainer.optimizer.lr)
        step(grads)
        if len(seen) == 20:
            stop.set()

    trainer.optimizer.step = spy
    trainer.run(stop, val_interval=0)
    assert seen == [0.01] * 20


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.lesson_inputs])
def test_tutorial_lessons_reach_full_accuracy_quickly(name):
    """Quickly in steps, which the machine's load does not change: each takes 25-100 here."""
    preset = PRESETS[name]
    corpus = load_corpus(preset.corpus)
    model_config, train_config = preset_configs(preset, len(corpus.vocab))
    assert model_config.hidden == 3 and train_config.lr == 0.01
    trainer = Trainer(
        corpus, model_config, train_config, batches=lesson_batches(preset, corpus.vocab)
    )
    acc = 0.0
    while acc < 1.0 and trainer.step < 500:
        for _ in range(25):
            trainer.train_step()
        acc = lesson_accuracy(Predictor(trainer.snapshot()), preset.lesson_inputs)
    assert acc == 1.0, f"{name}: {acc:.0%} after {trainer.step} steps"
