"""The n-gram baselines: Kneser-Ney math against hand counts and a naive reference, the interface."""

from collections import defaultdict

import numpy as np
import pytest

from rnn_tui.engine.corpus import Vocab, load_corpus
from rnn_tui.engine.errors import ConfigError, CorpusError
from rnn_tui.lab.metrics import bits_per_char, evaluate, log2_prob
from rnn_tui.lab.ngram import AddKModel, NgramModel, estimate_discounts

ENGLISH = (
    "The garden behind the old house was quiet in the morning. Birds sang in the trees, and the "
    "grass was still wet with dew. The children ran out of the house and into the garden, "
    "laughing and shouting. Their mother called them back for breakfast, but they did not hear "
    "her. They were looking for the small brown rabbit that lived under the hedge at the end of "
    "the garden. Every morning the rabbit came out to eat the grass, and every morning the "
    "children tried to catch it. They never did. "
)
HELD_OUT = (
    "In the evening the garden was quiet again. The children were asleep in the house, and the "
    "small brown rabbit came out from under the hedge to eat the wet grass in the moonlight."
)


def probs_after(model, history):
    m = model.clone()
    m.reset()
    m.feed_text(history)
    return m.probs


def kn_reference(text, order, vocab, discounts):
    """Interpolated KN written the slow, obvious way (dicts of sets), for cross-checking."""
    V, N = len(vocab), order
    raw = [defaultdict(lambda: defaultdict(int)) for _ in range(N + 1)]
    left = [defaultdict(lambda: defaultdict(set)) for _ in range(N + 1)]
    for n in range(1, N + 1):
        for i in range(n - 1, len(text)):
            h, c = text[i - n + 1 : i], text[i]
            raw[n][h][c] += 1
            if i >= n:
                left[n][h][c].add(text[i - n])
    tables = [None] + [
        raw[n] if n == N else {h: {c: len(s) for c, s in d.items()} for h, d in left[n].items()}
        for n in range(1, N + 1)
    ]

    def prob(history, c):
        p = 1.0 / V
        for n in range(1, min(N, len(history) + 1) + 1):
            d = tables[n].get(history[len(history) - n + 1 :] if n > 1 else "")
            if not d:
                continue
            D = (0.0, *discounts[n - 1])
            gamma = sum(min(a, D[min(a, 3)]) for a in d.values())
            p = (max(d.get(c, 0) - D[min(d.get(c, 0), 3)], 0) + gamma * p) / sum(d.values())
        return p

    return prob


def test_hand_computed_unigram_continuation_and_bigram():
    # "abcacb": char preceded by (continuation counts): a <- {c} = 1, b <- {a, c} = 2,
    # c <- {b, a} = 2; 5 in all. Raw unigram counts are 2, 2, 2. Vocabulary abcd (d unseen), D = 0.5.
    vocab = Vocab("abcd")
    m = NgramModel.fit("abcacb", order=2, vocab=vocab, discounts=0.5)
    # Unseen context 'd': order 1 with continuation counts, gamma = 3 types * 0.5 = 1.5
    # P(a) = (1 - .5 + 1.5/4)/5 = .175, P(b) = P(c) = (2 - .5 + .375)/5 = .375, P(d) = .375/5
    p1 = [0.175, 0.375, 0.375, 0.075]
    assert np.allclose(probs_after(m, "d"), p1, rtol=0, atol=1e-15)
    # Seen context 'a' (top order, raw counts): b once, c once; total 2, gamma = 2 * 0.5 = 1
    # P(x|a) = (max(n - .5, 0) + 1 * P1(x)) / 2
    assert np.allclose(probs_after(m, "a"), [0.0875, 0.4375, 0.4375, 0.0375], rtol=0, atol=1e-15)
    # An order-1 model is a unigram of RAW counts (its top order): (2 - .5 + 1.5/4)/6 each, d .375/6
    u = NgramModel.fit("abcacb", order=1, vocab=vocab, discounts=0.5)
    assert np.allclose(u.probs, [0.3125, 0.3125, 0.3125, 0.0625], rtol=0, atol=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("spec", ["modified", "single"])
def test_matches_the_naive_reference(order, spec):
    zen = load_corpus("zen").text
    train, test = zen[:600], zen[600:760]
    vocab = Vocab.from_text(zen + "~")
    m = NgramModel.fit(train, order, vocab=vocab, discounts=spec)
    ref = kn_reference(train, order, vocab, m.discounts)
    for i in range(0, len(test), 7):
        history = test[:i][-(order - 1) :] if order > 1 else ""
        p = probs_after(m, history)
        assert np.allclose(p, [ref(history, c) for c in vocab.chars], rtol=0, atol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 6])
def test_distributions_sum_to_one_for_seen_and_unseen_contexts(order):
    text = "she sells sea shells by the sea shore; the shells she sells are sea shells."
    vocab = Vocab.from_text(text + "XYZ")
    for spec in ("modified", "single", 0.9):
        m = NgramModel.fit(text, order, vocab=vocab, discounts=spec)
        seen = {text[i : i + k] for k in range(order) for i in range(len(text) - k + 1)}
        rng = np.random.default_rng(0)
        unseen = {"".join(rng.choice(list(vocab.chars), size=order - 1)) for _ in range(30)}
        for history in seen | unseen | {"XYZ", "se?", "\u00e9"}:
            p = probs_after(m, history)
            assert p.shape == (len(vocab),) and p.dtype == np.float64
            assert abs(p.sum() - 1.0) < 1e-12
            assert p.min() > 0  # the uniform base reaches every char of the vocabulary


def test_unseen_context_is_its_suffix():
    m = NgramModel.fit("abcabcabd", order=3)
    # "cb" never occurs: the order-3 level is skipped, leaving exactly the history "b"
    assert np.array_equal(probs_after(m, "cb"), probs_after(m, "b"))
    assert not np.array_equal(probs_after(m, "ab"), probs_after(m, "b"))
    # an unknown char is not fed: "bz" is the history "b"
    assert np.array_equal(probs_after(m, "bz"), probs_after(m, "b"))
    assert probs_after(m, "ab").argmax() == m.vocab.id("c")


def test_discount_estimates():
    # Y = 10 / (10 + 2*5) = .5; D1 = 1 - 2*.5*5/10 = .5; D2 = 2 - 3*.5*3/5 = 1.1;
    # D3+ = 3 - 4*.5*2/3 = 5/3
    assert estimate_discounts(10, 5, 3, 2) == pytest.approx((0.5, 1.1, 5 / 3))
    assert estimate_discounts(10, 5, 3, 2, single=True) == pytest.approx((0.5, 0.5, 0.5))
    assert estimate_discounts(0, 0, 0, 0) == (0.5, 0.5, 0.5)  # degenerate: fallback
    assert estimate_discounts(1, 100, 0, 0)[0] == 0.05  # clamped to MIN_DISCOUNT


def test_kn_beats_add_one_on_held_out_text():
    vocab = Vocab.from_text(ENGLISH + HELD_OUT)
    kn = NgramModel.fit(ENGLISH, order=4, vocab=vocab)
    add1 = AddKModel.fit(ENGLISH, order=4, vocab=vocab, k=1.0)
    kn_bpc, add1_bpc = bits_per_char(kn, HELD_OUT), bits_per_char(add1, HELD_OUT)
    assert kn_bpc < 2.9 and add1_bpc > 3.9 and kn_bpc < add1_bpc - 1.0
    # Interpolating lower orders is what helps: KN order 4 beats KN order 1 as well.
    assert kn_bpc < NgramModel(kn.counts, order=1).bits_per_char(HELD_OUT) - 1.0


def test_add_k_hand_computed():
    # "abab", order 2, k = 1, V = 2: after 'a': b twice -> P(b|a) = 3/4; after 'b': a once -> 2/3
    m = AddKModel.fit("abab", order=2, k=1.0)
    assert np.allclose(probs_after(m, "a"), [1 / 4, 3 / 4])
    assert np.allclose(probs_after(m, "b"), [2 / 3, 1 / 3])
    # Empty history: the unigram (2+1)/(4+2) each
    assert np.allclose(probs_after(m, ""), [0.5, 0.5])
    # "abcab", order 3, k = .5, V = 3: "ab" is followed by 'c' once -> (1 + .5) / (1 + 1.5)
    m3 = AddKModel.fit("abcab", order=3, k=0.5)
    assert probs_after(m3, "ab") == pytest.approx([0.5 / 2.5, 0.5 / 2.5, 1.5 / 2.5])
    assert probs_after(m3, "ca") == pytest.approx([0.5 / 2.5, 1.5 / 2.5, 0.5 / 2.5])
    assert probs_after(m3, "ba") == pytest.approx([1 / 3] * 3)  # unseen context: uniform


@pytest.mark.parametrize(
    "make", [lambda t, v: NgramModel.fit(t, 5, vocab=v), lambda t, v: AddKModel.fit(t, 3, vocab=v)]
)
def test_bulk_scorer_equals_the_char_by_char_walk(make):
    vocab = Vocab.from_text(ENGLISH + HELD_OUT)
    m = make(ENGLISH, vocab)
    text = HELD_OUT[:120] + "?!" + HELD_OUT[120:]  # '?' and '!' are unknown
    walk = m.clone()
    walk.reset()
    expected = []
    for ch in text:
        i = vocab.id(ch)
        expected.append(log2_prob(walk.probs[i] if i is not None else 0.0))
        walk.feed(ch)
    assert np.array_equal(m.log2_probs(text), np.array(expected))  # bit for bit
    assert np.array_equal(m.log2_probs(text[50:], context=text[:50]), np.array(expected[50:]))
    assert m.bits_per_char(text) == pytest.approx(bits_per_char(m, text), rel=1e-12)


def test_fit_on_ids_equals_fit_on_text():
    vocab = Vocab.from_text(ENGLISH + HELD_OUT)
    from_ids = NgramModel.fit(vocab.encode(ENGLISH), order=4, vocab=vocab)
    from_text = NgramModel.fit(ENGLISH, order=4, vocab=vocab)
    assert np.array_equal(from_ids.log2_probs(HELD_OUT), from_text.log2_probs(HELD_OUT))


def test_prediction_interface():
    m = NgramModel.fit(ENGLISH, order=4)
    assert m.feed_text("the gar") == 7
    assert m.context == "gar"
    before = m.probs.copy()
    assert m.feed("\u00e9") is False and np.array_equal(m.probs, before)  # unknown: no change
    assert m.probs is m.probs  # cached per context
    with pytest.raises(ValueError):
        m.probs[0] = 1.0  # the cache is read-only
    top = m.top_k(3)
    assert [c for c, _ in top][0] == "d" and top[0][1] >= top[1][1] >= top[2][1]
    assert m.greedy() == "den"  # stops at the word end
    assert m.sample(30, temperature=0) == m.greedy(30, stop_at_word_end=False)
    assert m.sample(30, seed=3) == m.sample(30, seed=3)
    assert m.context == "gar" and np.array_equal(m.probs, before)  # no state change
    twin = m.clone()
    twin.feed_text("den")
    assert m.context == "gar" and twin.context == "den"
    m.reset()
    assert m.context == ""


def test_tune_picks_the_best_order_and_scale():
    m = NgramModel.fit(ENGLISH, order=5)
    results = m.tune(HELD_OUT, scales=(0.8, 1.0))
    assert set(results) == {(n, s) for n in range(1, 6) for s in (0.8, 1.0)}
    best = min(results, key=results.get)
    assert (m.order, m.scale) == best
    assert m.bits_per_char(HELD_OUT) == pytest.approx(results[best])
    assert m.order >= 3


def test_invalid_settings_are_refused():
    for bad in (0, 9, "6", 2.0, True):
        with pytest.raises(ConfigError):
            NgramModel.fit("abcabc", order=bad)
    with pytest.raises(ConfigError):
        NgramModel(NgramModel.fit("abcabc", order=3).counts, order=4)  # more than was counted
    with pytest.raises(ConfigError):
        NgramModel.fit("abcabc", order=3, discounts=[0.5])  # one per order needed
    with pytest.raises(ConfigError):
        AddKModel.fit("abcabc", order=2, k=0)
    with pytest.raises(CorpusError):
        NgramModel.fit("???", order=2, vocab=Vocab("ab"))
    with pytest.raises(ConfigError):
        NgramModel.fit("abcabc", order=3).with_settings(scale=0)
    with pytest.raises(ValueError):
        NgramModel.fit(np.array([0, 1, 5]), order=2, vocab=Vocab("ab"))


def test_tiny_texts_still_give_distributions():
    for text in ("ab", "abc"):
        m = NgramModel.fit(text, order=8)
        for history in ("", "a", "ab", "ba" * 5):
            assert abs(probs_after(m, history).sum() - 1) < 1e-12
        assert np.isfinite(m.log2_probs("abba")).all()


@pytest.mark.slow
def test_stdlib_figures():
    """The anchor: KN-6 1.98, KN-4 2.28, add-k-4 2.43 bpc; here (Python 3.11): 1.95, 2.27, 2.43."""
    corpus = load_corpus("stdlib")
    train_ids, val_ids = corpus.split(0.1)
    val = corpus.vocab.decode(val_ids)
    kn6 = NgramModel.fit(train_ids, order=6, vocab=corpus.vocab)
    bpc6 = kn6.bits_per_char(val)
    bpc4 = NgramModel(kn6.counts, order=4).bits_per_char(val)
    addk4 = AddKModel(kn6.counts, order=4, k=0.1).bits_per_char(val)
    assert 1.85 < bpc6 < 2.05 and bpc6 < bpc4 - 0.2 and bpc4 < addk4 - 0.1  # near the anchor
    r = evaluate(kn6, val[:2000])
    assert r.top1 > 0.5 and r.keystroke_savings > 0.05
