"""Type-ahead beyond one model: the mixture, dynamic evaluation, word suggestions by beam search."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.dynamic import DynamicConfig, DynamicPredictor
from rnn_tui.engine.model import CharModel, ParamSnapshot
from rnn_tui.engine.predict import NextCharModel, Predictor
from rnn_tui.lab.metrics import bits_per_char, evaluate, keystroke_savings_at
from rnn_tui.lab.mixture import DEFAULT_RATE, MixtureModel
from rnn_tui.lab.ngram import NgramModel
from rnn_tui.lab.suggest import suggest
from tests.test_metrics import StubModel


def tiny_predictor(chars: str = "abcdefgh .", hidden: int = 24, seed: int = 1) -> Predictor:
    vocab = Vocab(chars)
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", hidden=hidden)
    return Predictor(ParamSnapshot.of(cfg, vocab, CharModel(cfg, seed=seed).params))


class Fixed(NextCharModel):
    """The same distribution whatever was fed."""

    def __init__(self, probs, vocab):
        self.p, self.vocab = np.asarray(probs, np.float64), vocab

    def reset(self):
        pass

    def feed(self, ch):
        return ch in self.vocab

    @property
    def probs(self):
        return self.p

    def clone(self):
        return Fixed(self.p, self.vocab)


# -- the mixture --------------------------------------------------------------------------------
def test_mixture_sums_to_one_in_seen_and_unseen_contexts():
    train = "abc abd abc. bad cab. " * 20
    net = tiny_predictor()
    kn = NgramModel.fit(train, order=4, vocab=net.vocab)
    mix = MixtureModel([net, kn], ["network", "kn"])
    for context in ("", "abc ab", "hhhgg.", "ab" * 30, "efgh"):  # seen, never seen, long
        m = mix.clone()
        m.reset()
        m.feed_text(context)
        p = m.probs
        assert p.shape == (len(net.vocab),) and np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert m.weights.sum() == pytest.approx(1.0)


def test_weight_update_matches_a_hand_computed_case():
    vocab = Vocab(" ab")
    a, b = Fixed((0.2, 0.5, 0.3), vocab), Fixed((0.6, 0.2, 0.2), vocab)
    mix = MixtureModel([a, b], ["a", "b"])
    # Weight set: A's largest probability 0.5 is in bucket 1 (0.3 <= p < 0.6), B's 0.6 in 2: 1*4+2.
    assert np.allclose(mix.weights, [0.5, 0.5])
    assert np.allclose(mix.probs, [0.4, 0.35, 0.25])
    mix.feed("a")
    # p(a) = 0.35; d(-log p)/d theta_A = -0.5 (0.5/0.35 - 1) = -3/14, and +3/14 for B.
    assert np.allclose(mix.theta[6], [DEFAULT_RATE * 3 / 14, -DEFAULT_RATE * 3 / 14])
    assert np.count_nonzero(mix.theta) == 2  # no other weight set moved
    w_a = 1 / (1 + math.exp(-2 * DEFAULT_RATE * 3 / 14))
    assert np.allclose(mix.weights, [w_a, 1 - w_a])
    assert np.allclose(mix.probs, w_a * a.p + (1 - w_a) * b.p)
    assert np.allclose(mix.mean_weights, [0.5, 0.5])  # the weights used for the one char scored


def oracle_gap(make_mixture, components, text: str) -> float:
    """bits of the mixture minus bits of an oracle that, knowing each char, takes the component
    that gave it the most: a linear mixture that does not peek is always above (> 0)."""
    mix = make_mixture()
    mix.reset()
    for c in components:
        c.reset()
    gap = 0.0
    for ch in text:
        i = mix.vocab.id(ch)
        best = max(c.probs[i] for c in components)
        gap += math.log2(best) - math.log2(mix.probs[i])
        mix.feed(ch)
        for c in components:
            c.feed(ch)
    return gap


class Peeking(MixtureModel):
    """A mixture that cheats: it puts all weight on the component that is right about `future`."""

    future = ""

    @property
    def probs(self):
        i = self.vocab.id(self.future[self.models[0].fed])
        parts = [m.probs for m in self.models]
        return max(parts, key=lambda p: p[i])


def test_mixture_is_never_better_than_an_oracle_that_knows_the_target():
    text = "ab ba aab abba b a bb aa " * 4
    s1 = StubModel()
    s2 = StubModel({k: (0.5, 0.25, 0.25) for k in (None, " ", "a", "b")})
    assert (
        oracle_gap(lambda: MixtureModel([StubModel(), StubModel(s2.table)]), [s1, s2], text) > 1.0
    )
    Peeking.future = text
    assert oracle_gap(lambda: Peeking([StubModel(), StubModel(s2.table)]), [s1, s2], text) <= 1e-9


def test_mixture_does_not_look_at_the_char_it_scores():
    net = tiny_predictor()
    kn = NgramModel.fit("abc abd abc. bad cab. " * 20, order=3, vocab=net.vocab)
    one, two = (MixtureModel([net, kn]) for _ in range(2))
    one.feed_text("abc ab")
    two.feed_text("abc ab")
    before = one.probs.copy()
    one.feed("c")
    two.feed("h")
    assert np.array_equal(before, two.clone().probs) is False  # the weights did learn...
    three = MixtureModel([net, kn])
    three.feed_text("abc ab")
    assert np.array_equal(three.probs, before)  # ...but only after scoring


# -- dynamic evaluation -------------------------------------------------------------------------
def random_text(n: int, seed: int = 0, chars: str = "abcdefgh .") -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(chars), n))


def test_a_text_read_twice_costs_far_less_the_second_time():
    net = tiny_predictor(hidden=32)  # untrained: it can only learn what this text teaches
    words = np.random.default_rng(0).choice(["bad", "cafe", "head", "beef", "deaf.", "gab"], 50)
    text = " ".join(words) + " "
    config = DynamicConfig(segment=16, lr=3e-2, decay=0.0)
    dyn = DynamicPredictor(net.snapshot, config)
    rows = dyn.feed_scored(text + text)
    ids = net.vocab.encode(text + text)
    bits = -np.log2(rows[np.arange(len(ids)), ids])
    first, second = bits[: len(text)].mean(), bits[len(text) :].mean()
    static = bits_per_char(net, text + text[:-1])  # (both halves cost the same without learning)
    assert second < 0.75 * first and second < 0.6 * static, (first, second, static)
    assert dyn.steps == (2 * len(text) - 1) // 16 and dyn.drift() > 0


@pytest.mark.parametrize("where", [0, 5, 15, 16, 17, 33, 60])
def test_the_score_of_a_char_never_depends_on_that_char(where):
    net = tiny_predictor()
    text = random_text(70, seed=3)
    other = text[:where] + ("a" if text[where] != "a" else "b") + text[where + 1 :]
    rows = [
        DynamicPredictor(net.snapshot, DynamicConfig(lr=1e-2)).feed_scored(t) for t in (text, other)
    ]
    assert np.array_equal(rows[0][: where + 1], rows[1][: where + 1])  # up to the one before it
    assert not np.allclose(rows[0][where + 2 :], rows[1][where + 2 :])  # (it is learnt from later)
    # char by char, the same distributions as the chunked path
    dyn = DynamicPredictor(net.snapshot, DynamicConfig(lr=1e-2))
    for j, ch in enumerate(text):
        assert np.allclose(dyn.probs, rows[0][j], atol=1e-5), j
        dyn.feed(ch)


def test_dynamic_lookahead_and_reset_leave_the_weights_alone():
    net = tiny_predictor()
    dyn = DynamicPredictor(net.snapshot, DynamicConfig(segment=4, lr=1e-2))
    dyn.feed_text("abcabcabc")
    learnt, steps = dyn.params, dyn.steps
    dyn.greedy(30)
    dyn.sample(30, seed=1)
    suggest(dyn, 3)
    assert dyn.params is learnt and dyn.steps == steps
    twin = dyn.clone()
    twin.feed_text("hhhhhhhhhh")
    assert dyn.params is learnt and twin.params is not learnt
    dyn.reset_weights()
    assert dyn.params is net.snapshot.params and dyn.drift() == 0.0


# -- word suggestions ---------------------------------------------------------------------------
def brute_force(model, max_len: int) -> list[tuple[str, float]]:
    vocab = model.vocab
    ends = [c for c in vocab.chars if c.isspace()]
    letters = [c for c in vocab.chars if not c.isspace()]
    out = []
    for n in range(1, max_len + 1):
        for word in itertools.product(letters, repeat=n):
            m, p = model.clone(), 1.0
            for ch in word:
                p *= m.probs[vocab.id(ch)]
                m.feed(ch)
            p *= sum(m.probs[vocab.id(e)] for e in ends)
            out.append(("".join(word), p))
    return sorted(out, key=lambda wp: -wp[1])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_beam_search_finds_the_k_most_probable_distinct_completions(seed):
    model = tiny_predictor("abc ", hidden=8, seed=seed)
    model.feed_text("ab ca")
    exact = brute_force(model, 4)
    got = suggest(model, k=5, beam=200, max_len=4, branch=3)
    assert [w for w, _ in got] == [w for w, _ in exact[:5]]
    assert np.allclose([p for _, p in got], [p for _, p in exact[:5]])
    small = suggest(model, k=3, max_len=4)  # the default beam, on so few letters, is exact too
    assert small == got[:3]
    assert len({w for w, _ in got}) == 5 and model.fed == 5  # distinct; the model is unchanged


# Suggestions of the stub below: (' ', 'a', 'b') by the last char; the start acts like a space.
SUGGEST_TABLE = {
    None: (0.1, 0.6, 0.3),
    " ": (0.1, 0.6, 0.3),
    "a": (0.5, 0.2, 0.3),
    "b": (0.8, 0.1, 0.1),
}


# After a space: a .30, b .24, ab .144, aa .06, aab .0288   after 'a': b .24, a .1, ab .048
# Text "ab aab bb":  k=1 never right (a; b; a)                            -> 9 keys, saved 0
#   k=3: i=0 "ab" shown (1 key); i=2 ' '; i=3 "aab" not in {a,b,ab}: type; i=4 "ab" shown after
#        'a' (1 key); i=6 ' '; i=7 "bb" not shown: type; i=8 type          -> 7 keys, saved 2/9
#   k=5: as k=3 but "aab" is 5th after a space: i=0, i=2, i=3 accept, i=6, i=7, i=8 -> 6 keys
def test_savings_with_k_suggestions_hand_counted():
    stub = StubModel(SUGGEST_TABLE)
    assert [w for w, _ in suggest(stub, 5)] == ["a", "b", "ab", "aa", "aab"]
    assert keystroke_savings_at(stub, "ab aab bb", 1) == 0.0
    assert keystroke_savings_at(stub, "ab aab bb", 3) == pytest.approx(2 / 9)
    assert keystroke_savings_at(stub, "ab aab bb", 5) == pytest.approx(3 / 9)
    r = evaluate(stub, "ab aab bb")
    assert r.savings_at == pytest.approx({1: 0.0, 3: 2 / 9, 5: 3 / 9}) and r.suggest_chars == 9


# -- learning from the typing, off the UI thread ------------------------------------------------
def test_the_adapter_learns_on_its_thread_and_reapplies_or_restarts_on_new_weights():
    from rnn_tui.runtime.adapter import TypingAdapter

    published = []
    net = tiny_predictor()
    adapter = TypingAdapter(DynamicConfig(segment=8, lr=1e-2), on_update=published.append)
    try:
        adapter.set_trained(net.snapshot)
        adapter.type("abc abd ")
        adapter.type("abc abd abc abd abc ")  # appended: learnt from; the first 8 already were
        assert adapter.wait_idle()
        version, adapted = adapter.latest()
        assert adapter.steps == 2 and published and published[-1] == version
        delta = {k: adapted.params[k] - net.snapshot.params[k] for k in adapted.params}
        # training moved on: the same change is re-applied on top of the new weights
        newer = tiny_predictor(seed=5).snapshot
        adapter.set_trained(newer)
        assert adapter.wait_idle()
        _, moved = adapter.latest()
        assert "re-applied" in adapter.note and adapter.steps == 2
        for k, d in delta.items():
            assert np.allclose(moved.params[k] - newer.params[k], d, atol=1e-6)
        # another shape of model: nothing learnt applies, it starts again
        other = tiny_predictor(hidden=8).snapshot
        adapter.set_trained(other)
        assert adapter.wait_idle()
        assert adapter.note.startswith("restarted") and adapter.latest()[1] is other
        adapter.type("hhh")  # an edit, not an append: the context starts again, nothing learnt
        assert adapter.wait_idle() and adapter.steps == 0
        adapter.type("hhh" + "abc abd abc")
        assert adapter.wait_idle() and adapter.steps == 1
        adapter.reset()
        assert adapter.wait_idle() and adapter.latest()[1] is other and adapter.steps == 0
    finally:
        adapter.close()


def test_the_session_notices_when_learning_from_the_typing_hurts():
    from rnn_tui.runtime.typeahead import GUARD_KEYS, TypeAheadSession

    other = tiny_predictor(seed=2)  # untrained: about uniform
    sure = dict(tiny_predictor(seed=1).snapshot.params)
    sure["Why"] = sure["Why"] * 30  # a confident model, and a text it expects
    good = Predictor(ParamSnapshot.of(other.config, other.vocab, sure))
    text = "a" + good.sample(GUARD_KEYS + 10, temperature=0.5, seed=0)
    s = TypeAheadSession()
    s.set_trained(good.snapshot)
    s.set_snapshot(good.snapshot)  # adapted = trained: no difference
    for i in range(1, len(text) + 1):
        s.set_text(text[:i])
    assert s.adapted.bits == s.unadapted.bits and not s.adaptation_hurts()
    s.set_text("")
    s.set_snapshot(other.snapshot)  # "adapted" weights that predict this text worse
    for i in range(1, GUARD_KEYS):
        s.set_text(text[:i])
    assert not s.adaptation_hurts()  # too few keys to judge
    for i in range(GUARD_KEYS, len(text) + 1):
        s.set_text(text[:i])
    assert s.adapted.bpc > s.unadapted.bpc + 0.1 and s.adaptation_hurts()
