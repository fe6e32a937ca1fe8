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
from rnn_tui.engine.predict import NextCharModel, Predictor, current_word, spaceless
from rnn_tui.lab.metrics import bits_per_char, evaluate, keystroke_savings, keystroke_savings_at
from rnn_tui.lab.mixture import EPS, RATE, TEXT_LABEL, MixtureModel
from rnn_tui.lab.ngram import NgramModel
from rnn_tui.lab.online import DISCOUNT, MIN_MATCH, MatchModel, TextNgrams
from rnn_tui.lab.suggest import (
    MIN_LEN,
    PHRASE_LOOK,
    completes_phrases,
    suggest,
    word_suggestions,
)
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
    mix.feed_text("abc abd hhh. gg abc")  # something learnt about the text read, too
    for context in ("", "abc ab", "hhhgg.", "ab" * 30, "efgh"):  # seen, never seen, long
        m = mix.clone()
        m.reset()
        m.feed_text(context)
        p = m.probs
        assert p.shape == (len(net.vocab),) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert m.weights.sum() == pytest.approx(1.0)
        assert m.weight_labels == ["network", "kn", TEXT_LABEL]


@pytest.mark.parametrize("symbols", ["abcde", "bytes"])
def test_mixture_is_a_distribution_on_tiny_and_byte_vocabularies(symbols):
    if symbols == "bytes":
        vocab = Vocab([chr(b) for b in range(256)], symbols="bytes")
        text = "d\u00e9j\u00e0 vu, d\u00e9j\u00e0 lu \u00ab\u00bb " * 3
    else:
        vocab, text = Vocab("abcde"), "abcdeabcdeaabbe"
    train = vocab.decode(vocab.encode(text * 4))
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", hidden=8)
    net = Predictor(ParamSnapshot.of(cfg, vocab, CharModel(cfg, seed=0).params))
    kn = NgramModel.fit(vocab.encode(train).astype(np.int64), order=3, vocab=vocab)
    mix = MixtureModel([net, kn], ["network", "kn"])
    for i in vocab.encode(text).tolist():
        p = mix.probs
        assert np.all(p > 0) and p.sum() == pytest.approx(1.0, abs=1e-12)
        mix.feed_symbol(i)
    assert mix.scored == len(vocab.encode(text))


def test_byte_mode_histories_are_read_as_bytes():
    vocab = Vocab([chr(b) for b in range(256)], symbols="bytes")
    text = "d\u00e9j\u00e0 vu, d\u00e9j\u00e0 lu. " * 5
    ids = vocab.encode(text).tolist()
    kn = NgramModel.fit(np.array(ids, np.int64), order=3, vocab=vocab)
    m = kn.clone()
    for i in ids[:6]:  # "d\u00e9j\u00e0": 6 bytes, ending inside a two-byte letter
        m.feed_symbol(i)
    expected = kn._dist_of(kn.counts.context_ids_after(ids[:6], 3), 2)
    assert np.array_equal(m.probs, expected)  # (its history was re-encoded as UTF-8 before)
    net = Predictor(
        ParamSnapshot.of(
            cfg := ModelConfig(vocab_size=256, cell="gru", hidden=8), vocab, CharModel(cfg).params
        )
    )
    mix = MixtureModel([net, kn], ["network", "kn"])
    assert mix.feed("\u00e9") and mix.scored == 2  # a two-byte letter: two symbols scored
    mix.follow_text("d\u00e9")
    assert mix.text.recent == "".join(chr(i) for i in vocab.encode("d\u00e9").tolist())


def test_weight_update_matches_a_hand_computed_case():
    vocab = Vocab(" ab")
    a, b = Fixed((0.2, 0.5, 0.3), vocab), Fixed((0.6, 0.2, 0.2), vocab)
    mix = MixtureModel([a, b], ["a", "b"], read_text=False, prior=(0.5, 0.5))
    F = np.log([a.p, b.p])
    # Geometric mixing: p proportional to a^0.5 b^0.5.
    soft = np.sqrt(a.p * b.p) / np.sqrt(a.p * b.p).sum()
    assert np.allclose(mix.probs, (1 - EPS) * soft + EPS / 3)
    assert np.allclose(mix.weights, [0.5, 0.5])
    mix.feed("a")
    # g = F[:, a] - F @ soft; the first step: v = g^2, so each picked vector moves by
    # RATE g / (|g| + 1e-3), and the weights used are the sum of the 5 picked vectors.
    g = F[:, 1] - F @ soft
    step = RATE * g / (np.abs(g) + 1e-3)
    assert np.allclose(mix.W[0], [0.5 + step[0], 0.5 + step[1]])
    assert np.count_nonzero(mix.W[1:]) == 2 * 4  # 4 more vectors moved, each by `step`
    # For the next character the character-class selector picks another vector (after "a"):
    # a fresh one, so the weights are the prior plus the 4 other vectors' steps.
    w = np.array([0.5, 0.5]) + 4 * step
    soft2 = np.exp(w @ F) / np.exp(w @ F).sum()
    assert np.allclose(mix.probs, (1 - EPS) * soft2 + EPS / 3)
    # The second step averages the squares: v = (g^2 + g2^2) / 2 for the vectors used twice.
    mix.feed("b")
    g2 = F[:, 2] - F @ soft2
    v = (g * g + g2 * g2) / 2
    assert np.allclose(mix.W[0], 0.5 + step + RATE * g2 / (np.sqrt(v) + 1e-3))
    assert np.allclose(mix.mean_weights, mix.shares(np.array([0.5, 0.5]) + 2 * step))


def iid_text(n: int, q, chars: str, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(chars), n, p=q))


class Peeking(MixtureModel):
    """A mixture that cheats: it gives each character the largest probability any of its
    models gives it, knowing which character comes (`future`)."""

    future = ""

    @property
    def probs(self):
        i = self.vocab.id(self.future[self.scored])
        return max((m.probs for m in self.models), key=lambda p: p[i])


def test_mixture_is_never_better_than_an_oracle_that_knows_the_source():
    """On characters drawn independently from q, nothing that does not peek beats q's own bits
    (but for the luck of the sample, well under 0.01 bit here); a peeking mixture does."""
    vocab, q = Vocab("abc"), (0.5, 0.3, 0.2)
    text = iid_text(3000, q, "abc")
    oracle = float(np.mean([-math.log2(q[vocab.id(c)]) for c in text]))
    models = [Fixed(q, vocab), Fixed((1 / 3, 1 / 3, 1 / 3), vocab)]
    honest = bits_per_char(MixtureModel(models, ["q", "uniform"]), text)
    assert oracle - 0.01 < honest < oracle + 0.1
    Peeking.future = text
    cheat = Peeking(models, ["q", "uniform"])
    bits = 0.0
    for ch in text:
        bits -= math.log2(cheat.probs[vocab.id(ch)])
        cheat.feed(ch)
    assert bits / len(text) < oracle - 0.1  # what the test above would catch


@pytest.mark.parametrize("where", [0, 7, 30, 61])
def test_the_mixture_never_looks_at_the_char_it_scores(where):
    """Change one character: every distribution up to the one that scores it stays the same
    (the weights and the models of the text learn from it only after); later ones move."""
    net = tiny_predictor()
    kn = NgramModel.fit("abc abd abc. bad cab. " * 20, order=3, vocab=net.vocab)
    text = ("abc abd hhh. abc abd hhh. " * 3)[:70]
    other = text[:where] + ("g" if text[where] != "g" else "e") + text[where + 1 :]
    runs = []
    for t in (text, other):
        mix, rows = MixtureModel([net, kn], ["network", "kn"]), []
        for ch in t:
            rows.append(mix.probs.copy())
            mix.feed(ch)
        rows.append(mix.probs.copy())
        runs.append(np.array(rows))
    assert np.array_equal(runs[0][: where + 1], runs[1][: where + 1])
    assert not np.allclose(runs[0][where + 1 :], runs[1][where + 1 :])


def test_the_models_of_the_text_see_a_character_only_after_it_is_scored():
    net = tiny_predictor()
    kn = NgramModel.fit("abc abd abc. bad cab. " * 20, order=3, vocab=net.vocab)
    mix = MixtureModel([net, kn], ["network", "kn"])
    text = "abcde abcde fgh abcde abcd"
    for t, ch in enumerate(text):
        assert mix.probs.sum() == pytest.approx(1.0)  # scored here
        learnt = sum(sum(after.values()) for key, after in mix.text.counts.items() if len(key) == 1)
        assert len(mix.match.history) == t and learnt == max(t - 1, 0)
        mix.feed(ch)
    # after "abcd", seen once before as "abcde": the match model predicts 'e', from the text
    assert mix.match.predicted == net.vocab.id("e") and mix.match.length >= MIN_MATCH - 1


def test_text_ngrams_by_hand():
    V, D = 4, DISCOUNT  # ids 0..3
    t = TextNgrams(V, order=2)
    for i in (1, 2, 1, 3, 1):  # contexts: after 1: {2: 1, 3: 1}; after 3,1 nothing yet
        t.learn(i)
    out = np.zeros((2, V))
    assert t.rows(out) == 1  # order 1 ("1") seen, order 2 ("31") never
    p1 = np.full(V, D * 2 / 2 / V)  # the discounted mass, spread by the order below (uniform)
    p1[[2, 3]] += (1 - D) / 2
    assert np.allclose(np.exp(out[0]), p1) and np.exp(out[0]).sum() == pytest.approx(1.0)
    assert np.array_equal(out[1], out[0])  # an unseen order repeats the longest seen


def test_match_model_follows_and_counts_its_hits():
    m = MatchModel(5, min_match=3)
    for i in (0, 1, 2, 3, 4, 0, 1, 2):  # "abcdeabc": the context "abc" was followed by 'd'
        m.learn(i)
    assert m.predicted == 3 and m.length == 3
    guess = m.follow()
    guess.step(3)  # a beam search's guess that agrees: the match goes on
    assert guess.predicted == 4 and guess.length == 4 and len(m.history) == 8
    m.learn(3)
    assert m.hits.sum() == 1 + len(m.hits) and m.predicted == 4
    row = np.zeros(5)
    assert m.row(row) and np.exp(row).sum() == pytest.approx(1.0)
    assert np.argmax(row) == 4


def test_lookahead_and_thread_copies_leave_what_was_learnt_alone():
    net = tiny_predictor()
    kn = NgramModel.fit("abc abd abc. bad cab. " * 20, order=3, vocab=net.vocab)
    mix = MixtureModel([net, kn], ["network", "kn"])
    mix.feed_text("abc abd abc abd hhh ")
    W, counts, history = mix.W.copy(), dict(mix.text.counts), list(mix.match.history)
    before = mix.probs.copy()
    mix.greedy(20)
    suggest(mix.for_thread(), 3)
    mix.sample(20, seed=1)
    assert np.array_equal(mix.W, W) and mix.text.counts == counts
    assert mix.match.history == history and np.array_equal(mix.probs, before)
    twin = mix.clone()
    twin.feed_text("gggggg")
    assert np.array_equal(mix.W, W) and mix.text.counts == counts


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
def every_run(model, max_len: int):
    """Every run of MIN_LEN..max_len characters with no word end in it: (the run, its
    probability, the model after it)."""
    vocab = model.vocab
    letters = [c for c in vocab.chars if not c.isspace()]
    for n in range(MIN_LEN, max_len + 1):
        for run in itertools.product(letters, repeat=n):
            m, p = model.clone(), 1.0
            for ch in run:
                p *= m.probs[vocab.id(ch)]
                m.feed(ch)
            yield "".join(run), p, m


def brute_force(model, max_len: int, phrases: bool = False) -> list[tuple[str, float]]:
    """Every word (a run, then a word end), most probable first; or every phrase (a run), the
    most keys saved first."""
    if phrases:
        out = [(w, p) for w, p, _ in every_run(model, max_len)]
        return sorted(out, key=lambda wp: -wp[1] * (len(wp[0]) - 1))
    ends = [model.vocab.id(c) for c in model.vocab.chars if c.isspace()]
    out = [(w, p * sum(m.probs[e] for e in ends)) for w, p, m in every_run(model, max_len)]
    return sorted(out, key=lambda wp: -wp[1])


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("phrases", [False, True])
def test_beam_search_finds_the_k_best_distinct_completions(seed, phrases):
    """Words: the k most probable. Phrases (no word end in them): the k that save the most keys."""
    model = tiny_predictor("abc 甲" if phrases else "abc ", hidden=8, seed=seed)
    if phrases:  # a sure model: its longer runs save more keys than its likeliest pairs
        sure = dict(model.snapshot.params, Why=model.snapshot.params["Why"] * 30)
        model = Predictor(ParamSnapshot.of(model.config, model.vocab, sure))
    model.feed_text("ab 甲a" if phrases else "ab ca")
    exact = brute_force(model, 5 if phrases else 4, phrases)
    if phrases:
        got = suggest(model, k=5, beam=500, max_len=5, branch=4, phrases=True, min_prob=0)
    else:
        got = suggest(model, k=5, beam=200, max_len=4, branch=3, min_prob=0)
        small = suggest(model, k=3, max_len=4, min_prob=0)  # the default beam is exact here too
        assert small == got[:3]
    assert [w for w, _ in got] == [w for w, _ in exact[:5]]
    assert np.allclose([p for _, p in got], [p for _, p in exact[:5]])
    assert len({w for w, _ in got}) == 5 and model.fed == 5  # distinct; the model is unchanged
    assert all(" " not in w for w, _ in got)
    if phrases:  # (not merely the most probable)
        assert [w for w, _ in got] != [w for w, _ in sorted(exact, key=lambda wp: -wp[1])[:5]]


def test_no_suggestion_below_min_prob_so_none_after_a_finished_word():
    """Where the model is sure the word ends here, the bar is empty, not full of junk (after
    "better": "betterut"); elsewhere only completions at least MIN_PROB likely are offered."""
    from rnn_tui.lab.suggest import MIN_PROB

    sure = {  # (' ', 'a', 'b') by the last char: after 'b' the word ends, all but surely
        None: (0.2, 0.5, 0.3),
        " ": (0.2, 0.5, 0.3),
        "a": (0.1, 0.3, 0.6),
        "b": (0.9998, 0.0001, 0.0001),
    }
    model = StubModel(sure)
    model.feed("b")
    assert suggest(model, k=3) == []
    assert suggest(model, k=3, min_prob=0)  # (the search itself still finds some)
    model.feed("a")
    got = suggest(model, k=20)
    assert got and all(p >= MIN_PROB for _, p in got)
    assert len(got) < len(suggest(model, k=20, min_prob=0))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_byte_mode_beam_search_offers_whole_characters_as_text(seed):
    """In byte mode the search walks UTF-8 bytes: its completions are the text they decode to
    ("é", not "Ã©"), they end only after a whole character, their length counts characters, and
    they are the most probable ones: brute force over the strings of 'a' and 'é', each costing
    the product of its bytes' probabilities (C3 A9 for é), then a word end."""
    vocab = Vocab([chr(b) for b in (0x20, 0x61, 0xA9, 0xC3)], symbols="bytes")
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", hidden=8)
    model = Predictor(ParamSnapshot.of(cfg, vocab, CharModel(cfg, seed=seed).params))
    model.feed_text("aé a")
    exact = []
    for n in range(MIN_LEN, 4):
        for word in itertools.product("aé", repeat=n):
            m, p = model.clone(), 1.0
            for b in vocab.encode("".join(word)).tolist():
                p *= m.probs[b]
                m.feed_symbol(b)
            exact.append(("".join(word), p * m.probs[vocab.id(" ")]))
    exact.sort(key=lambda wp: -wp[1])
    got = suggest(model, k=5, beam=400, max_len=3, branch=4, min_prob=0)
    assert [w for w, _ in got] == [w for w, _ in exact[:5]]
    assert np.allclose([p for _, p in got], [p for _, p in exact[:5]])
    assert all(set(w) <= {"a", "é"} and 2 <= len(w) <= 3 for w, _ in got)


def test_the_unknown_symbol_is_never_offered():
    """A rare character's stand-in (U+FFFD) is no word anyone types: not in a suggestion, even
    where the model rates it first."""
    vocab = Vocab("ab \ufffd", unknown=True)
    order = {c: i for i, c in enumerate(vocab.chars)}
    probs = np.zeros(len(vocab))
    probs[[order["\ufffd"], order["a"], order["b"], order[" "]]] = [0.5, 0.2, 0.1, 0.2]
    got = suggest(Fixed(probs, vocab), 3)
    assert got and all("\ufffd" not in w for w, _ in got)
    assert got[0] == ("aa", pytest.approx(0.2 * 0.2 * 0.2))


def test_byte_mode_suggestions_in_a_real_text():
    from rnn_tui.engine.corpus import make_corpus
    from rnn_tui.engine.encoding import VocabPolicy

    text = "le café est très bon, le thé aussi. déjà vu déjà fait. " * 40
    corpus = make_corpus("fr", text, VocabPolicy(byte_mode=True))
    model = NgramModel.fit(corpus.ids.astype(np.int64), order=5, vocab=corpus.vocab)
    model.feed_text("aussi. d")
    assert suggest(model, 3)[0][0] == "éjà"
    model.reset()
    model.feed_text("le café est tr")
    assert suggest(model, 3)[0][0] == "ès"
    # A memorised text: its words with accents are taken from the bar as the others are, and the
    # greedy completion (counted in characters, not bytes) saves what a model of characters saves.
    one, three = (keystroke_savings_at(model, text[:200], k) for k in (1, 3))
    assert three > one > 0.45
    chars = make_corpus("fr", text)
    by_chars = NgramModel.fit(chars.ids.astype(np.int64), order=5, vocab=chars.vocab)
    assert keystroke_savings(model, text[:200]) == keystroke_savings(by_chars, text[:200]) > 0.45


# Suggestions of the stub below: (' ', 'a', 'b') by the last char; the start acts like a space.
SUGGEST_TABLE = {
    None: (0.1, 0.6, 0.3),
    " ": (0.1, 0.6, 0.3),
    "a": (0.5, 0.2, 0.3),
    "b": (0.8, 0.1, 0.1),
}


# Completions of at least MIN_LEN = 2 characters, P(word, then a space):
#   after a space: ab .144, aa .06, aab .0288, bb .024, ba .015     after 'a': ab .048, bb .024, ...
# Text "ab aab bb" (9 chars):
#   k=1: i=0 "ab" shown (1 key); i=2 ' '; i=3 "aab" is not "ab": type; i=4 "ab" after 'a' (1 key);
#        i=6 ' '; i=7 "bb" not shown: type; i=8 one char left: type       -> 7 keys, saved 2/9
#   k=3: as k=1 but "aab" is 3rd after the space: i=0, i=2, i=3 accept, i=6, i=7, i=8 -> 6 keys
#   k=5: "bb" is 4th after the space too: i=0, i=2, i=3, i=6, i=7 accept  -> 5 keys, saved 4/9
def test_savings_with_k_suggestions_hand_counted():
    stub = StubModel(SUGGEST_TABLE)
    assert [w for w, _ in suggest(stub, 5)] == ["ab", "aa", "aab", "bb", "ba"]
    assert keystroke_savings_at(stub, "ab aab bb", 1) == pytest.approx(2 / 9)
    assert keystroke_savings_at(stub, "ab aab bb", 3) == pytest.approx(3 / 9)
    assert keystroke_savings_at(stub, "ab aab bb", 5) == pytest.approx(4 / 9)
    r = evaluate(stub, "ab aab bb")
    assert r.savings_at == pytest.approx({1: 2 / 9, 3: 3 / 9, 5: 4 / 9}) and r.suggest_chars == 9


# -- phrases, in scripts written without spaces ---------------------------------------------------
def test_scripts_without_spaces_and_the_current_word():
    assert all(spaceless(c) for c in "机器学习。、ひらがなカタカナｶﾀｶﾅภาษาไทยພາສາລາວမြန်မာខ្មែរ𠀋，")
    assert not any(spaceless(c) for c in "abc é ДЖ 한국어 ١٢ अ \u3000\n")
    assert current_word("ab cd") == "cd" and current_word("ab ") == "" and current_word("") == ""
    assert current_word("abc\tdefgh", 3) == "fgh" and current_word("a bc", 8) == "bc"


def test_a_word_in_a_script_without_spaces_gets_phrases():
    model = tiny_predictor("abc 甲乙", hidden=8)
    assert not completes_phrases(model, "abc")
    assert completes_phrases(model, "ab甲")  # the word holds such characters
    assert completes_phrases(model, "甲" + "a" * (PHRASE_LOOK - 1))
    assert not completes_phrases(model, "甲" + "a" * PHRASE_LOOK)  # (only its last few count)
    # before a word's first character, by the character the model expects most
    han = {"甲": 1.0}
    probs = [han.get(c, 0.0) for c in model.vocab.chars]
    assert completes_phrases(Fixed(probs, model.vocab), "")
    assert not completes_phrases(Fixed(probs[::-1], model.vocab), "")


# Phrases of the stub below, by the keys they save, P x (length - 1), from the start:
#   甲乙甲 .8 x .6 x .8 = .384 x 2 = .768; 甲乙甲乙甲 .184 x 4 = .737; 甲乙甲乙 .230 x 3 = .691; ...
# (a word, which must end before a space, would be 甲乙 at best: .48 x .1)
PHRASE_TABLE = {  # (' ', '乙', '甲') by the last character
    None: (0.0, 0.2, 0.8),
    "甲": (0.1, 0.6, 0.3),
    "乙": (0.1, 0.1, 0.8),
}


def test_savings_with_phrases_hand_counted():
    stub = StubModel(PHRASE_TABLE, Vocab(" 甲乙"))
    assert [w for w, _ in suggest(stub, 3, phrases=True)] == ["甲乙甲", "甲乙甲乙甲", "甲乙甲乙"]
    # "甲乙甲乙": with 1 suggestion 甲乙甲 goes in with one key, then 乙 is typed: 2 keys of 4;
    # with 3 the longest that the text goes on with, 甲乙甲乙, with one key.
    assert keystroke_savings_at(stub, "甲乙甲乙", 1) == pytest.approx(2 / 4)
    assert keystroke_savings_at(stub, "甲乙甲乙", 3) == pytest.approx(3 / 4)
    # After a phrase the walk goes on in the same word. "甲乙甲乙甲乙甲": 甲乙甲 (one key), then
    # after 甲 the best is 乙甲乙甲 (.6 x .8 x .6 x .8 x 3 = .691), the rest: 2 keys of 7.
    # "甲乙甲甲乙甲乙": 甲乙甲, then 乙甲乙甲 is not what follows, nor later: 1 + 4 keys.
    assert keystroke_savings_at(stub, "甲乙甲乙甲乙甲", 1) == pytest.approx(5 / 7)
    assert keystroke_savings_at(stub, "甲乙甲甲乙甲乙", 1) == pytest.approx(2 / 7)


def test_phrases_complete_a_chinese_text_that_words_never_could():
    text = "机器学习是人工智能的一个分支。深度学习是机器学习的一个分支。" * 30
    model = NgramModel.fit(text, order=5)
    model.feed_text("机器学习是人")
    assert word_suggestions(model, 3, "机器学习是人")[0].startswith("工智能")
    assert word_suggestions(model) == word_suggestions(model, 3, "机器学习是人")  # (by 工, next)
    model.reset()
    assert keystroke_savings_at(model, text[:300], 3) > 0.6
    words_only = NgramModel.fit(text, order=5)
    assert [w for w, _ in suggest(words_only, 3)] == []  # no word ends: no word to complete
    # In byte mode too, at the start of a clause, by the likeliest whole character (3 bytes).
    from rnn_tui.engine.corpus import make_corpus
    from rnn_tui.engine.encoding import VocabPolicy

    lines = make_corpus("zh", text.replace("。", "。\n"), VocabPolicy(byte_mode=True))
    bytewise = NgramModel.fit(lines.ids.astype(np.int64), order=8, vocab=lines.vocab)
    bytewise.feed_text("一个分支。\n")
    assert completes_phrases(bytewise, "")
    shown = word_suggestions(bytewise, 3, "一个分支。\n")
    assert shown and all(len(w) >= 2 and all(map(spaceless, w)) for w in shown), shown


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


def test_the_session_mixture_keeps_what_it_learnt_across_weights_and_edits():
    from rnn_tui.runtime.typeahead import TypeAheadSession

    net = tiny_predictor()
    kn = NgramModel.fit("abc abd abc. bad cab. " * 20, order=3, vocab=net.vocab)
    s = TypeAheadSession(prime="ab ")
    s.set_snapshot(net.snapshot)
    s.set_baseline(kn)
    mix = s.mixture
    assert mix is not None and mix.text.counts == {}  # the prime is context, not learnt from
    text = "hegab hegab hegab "
    for i in range(1, len(text) + 1):
        s.set_text(text[:i])
    learnt, W = dict(mix.text.counts), mix.W.copy()
    # (the first key starts the text: the session re-feeds it, so it is context only)
    assert len(mix.match.history) == len(text) - 1 and s.weights() is not None
    s.set_snapshot(tiny_predictor(seed=5).snapshot)  # new weights: a new mixture carries on
    assert s.mixture is not mix and np.array_equal(s.mixture.W, W)
    assert s.mixture.text.counts == learnt
    s.set_text("hegab hega")  # an edit: the re-fed text is context again, never learnt twice
    recent = "".join(chr(i) for i in net.vocab.encode("hega").tolist())  # (as ids)
    assert s.mixture.text.counts == learnt and s.mixture.text.recent == recent
    s.set_text("hegab hegab")  # one key appended: learnt from
    assert s.mixture.match.predicted >= 0 and len(s.mixture.match.history) == len(text)
    s.set_learning(False)
    s.set_text("hegab hegab ")
    assert len(s.mixture.match.history) == len(text)  # learning off: nothing learnt
    s.forget_typing()
    assert s.mixture.text.counts == {} and np.array_equal(s.mixture.W, s.mixture._W0)


def test_the_text_models_stop_adding_contexts_past_their_cap(monkeypatch):
    """A long text keeps their memory bounded: known contexts still count, new ones are not kept."""
    from rnn_tui.lab import online

    monkeypatch.setattr(online, "MAX_CONTEXTS", 5)
    monkeypatch.setattr(online, "MAX_INDEXED", 3)
    grams, match = online.TextNgrams(20), online.MatchModel(20, min_match=2)
    for i in [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3] * 3:
        grams.learn(i)
        match.learn(i)
    assert len(grams.counts) == 5 and len(match.index) == 3
    assert sum(grams.counts[chr(1)].values()) >= 3  # a kept context goes on counting
