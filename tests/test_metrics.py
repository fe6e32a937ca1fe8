"""Metrics against hand-counted cases: a stub model whose distribution depends on the last char."""

import math

import numpy as np
import pytest

from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.predict import NextCharModel
from rnn_tui.lab.metrics import (
    PROB_FLOOR,
    EvalReport,
    TypingStats,
    bits_per_char,
    evaluate,
    keystroke_savings,
    log2_prob,
    perplexity,
    score_char,
    top_k_accuracy,
    word_completion,
    word_ends,
)

VOCAB = Vocab(" ab")  # ids: ' ' 0, 'a' 1, 'b' 2
# Next-char distribution (' ', 'a', 'b') by the last char fed; the start acts like after a space.
TABLE = {
    None: (0.2, 0.5, 0.3),  # argmax 'a'
    " ": (0.2, 0.5, 0.3),  # argmax 'a'
    "a": (0.1, 0.3, 0.6),  # argmax 'b'
    "b": (0.7, 0.2, 0.1),  # argmax ' '
}
# So the greedy continuation from the start or after a space is "ab ab ab ...".


class StubModel(NextCharModel):
    """A fixed distribution per last character; greedy/top_k/sample come from NextCharModel."""

    def __init__(self, table=TABLE, vocab=VOCAB):
        self.table, self.vocab = table, vocab
        self.last = None
        self.fed = 0

    def reset(self):
        self.last = None

    def feed(self, ch):
        if ch not in self.vocab:
            return False
        self.last = ch
        self.fed += 1
        return True

    @property
    def probs(self):
        return np.array(self.table[self.last], dtype=np.float64)

    def clone(self):
        twin = StubModel(self.table, self.vocab)
        twin.last = self.last
        return twin


TEXT = "ab ab aab bb"
# i:      0 1 2 3 4 5 6 7 8 9 10 11
# char:   a b _ a b _ a a b _ b  b
# argmax: a b _ a b _ a b b _ a  _      (from the char before; start = after a space)
# hits:   Y Y Y Y Y Y Y n Y Y n  n      -> top-1 = 9/12
# rank of the misses: i=7 'a' after 'a' (0.3 < 0.6) rank 2; i=10 'b' after ' ' (0.3 < 0.5) rank 2;
# i=11 'b' after 'b' (0.1 < 0.7, 0.2) rank 3   -> top-2 = 11/12, top-3 = 12/12
TEXT_PROBS = [0.5, 0.6, 0.7, 0.5, 0.6, 0.7, 0.5, 0.3, 0.6, 0.7, 0.3, 0.1]
TEXT_BITS = -sum(math.log2(p) for p in TEXT_PROBS) / 12
# Keystroke savings, words "ab" [0,2), "ab" [3,5), "aab" [6,9), "bb" [10,12):
#   i=0  proposal "ab" == rest "ab": 1 key for 2 chars (saved 1)      keys 1
#   i=2  space typed                                                  keys 2
#   i=3  proposal "ab" == "ab": accepted (saved 1)                    keys 3
#   i=5  space                                                        keys 4
#   i=6  proposal "ab" != "aab": type 'a'                             keys 5
#   i=7  proposal "b" != "ab": type 'a'                               keys 6
#   i=8  rest "b" is one char: type it                                keys 7
#   i=9  space                                                        keys 8
#   i=10 proposal "ab" != "bb": type 'b'                              keys 9
#   i=11 type 'b'                                                     keys 10
# savings = (12 - 10) / 12 = 1/6
TEXT_SAVINGS = 2 / 12


def test_hand_counted_top_k_accuracy():
    acc = top_k_accuracy(StubModel(), TEXT, ks=(1, 2, 3))
    assert acc == {1: 9 / 12, 2: 11 / 12, 3: 12 / 12}


def test_hand_counted_bits_per_char_and_perplexity():
    assert bits_per_char(StubModel(), TEXT) == pytest.approx(TEXT_BITS, abs=1e-12)
    assert perplexity(StubModel(), TEXT) == pytest.approx(2**TEXT_BITS, rel=1e-12)


def test_hand_counted_keystroke_savings():
    assert keystroke_savings(StubModel(), TEXT) == pytest.approx(TEXT_SAVINGS)


def test_savings_need_the_word_end_predicted():
    # A model that always says 'a' proposes "aaa" for the word "aa": the letters are right but
    # the word does not end there, so nothing is accepted.
    always_a = {k: (0.1, 0.8, 0.1) for k in TABLE}
    assert keystroke_savings(StubModel(always_a), "aa aa") == 0.0
    # Completing the last word of the text also needs its end predicted: "ab" then ' ' -> accepted.
    assert keystroke_savings(StubModel(), "ab") == pytest.approx(1 / 2)


def test_evaluate_matches_the_single_figures_in_one_walk():
    r = evaluate(StubModel(), TEXT, ks=(1, 2))
    assert isinstance(r, EvalReport)
    assert r.chars == 12 and r.unknown == 0
    assert r.bpc == pytest.approx(TEXT_BITS, abs=1e-12)
    assert r.perplexity == pytest.approx(2**TEXT_BITS)
    assert (r.top1, r.top3, r.top5) == (9 / 12, 1.0, 1.0)
    assert r.topk == {1: 9 / 12, 2: 11 / 12, 3: 1.0, 5: 1.0}
    assert r.keystroke_savings == pytest.approx(TEXT_SAVINGS)
    assert r.ms_per_char > 0


def test_model_passed_in_is_not_changed_and_each_char_fed_once():
    m = StubModel()
    m.feed("b")
    evaluate(m, TEXT)
    assert m.last == "b" and m.fed == 1


def test_unknown_chars_are_misses_at_the_floor_and_counted():
    # 'x' is not in the vocabulary: a miss costing -log2(1e-12) bits; the model is not fed it,
    # so 'b' at i=2 is still predicted after 'a' (p 0.6). Savings: the word "axb" gets the
    # proposal "ab" at i=0 (fails, 'a' typed), 'x' is typed, then the rest "b" is one char:
    # all 3 chars typed.
    r = evaluate(StubModel(), "axb")
    floor_bits = -math.log2(PROB_FLOOR)
    assert r.unknown == 1
    assert r.bpc == pytest.approx((-math.log2(0.5) + floor_bits - math.log2(0.6)) / 3)
    assert r.top1 == pytest.approx(2 / 3) and r.top5 == pytest.approx(2 / 3)
    assert r.keystroke_savings == 0.0


def test_uniform_model_costs_log2_v_bits():
    vocab = Vocab("abcde")
    uniform = {k: (0.2,) * 5 for k in [None, *"abcde"]}
    text = "abcdeedcbaab"
    m = StubModel(uniform, vocab)
    assert bits_per_char(m, text) == pytest.approx(math.log2(5), abs=1e-12)
    assert perplexity(m, text) == pytest.approx(5.0)
    # Ties rank by vocabulary order: 'a' is rank 1, 'c' rank 3, 'e' rank 5. The text has
    # a x3, b x3, c x2, d x2, e x2: top-1 = 3/12, top-3 = 8/12.
    acc = top_k_accuracy(m, text, ks=(1, 3, 5))
    assert acc == {1: 3 / 12, 3: 8 / 12, 5: 1.0}


def test_score_char_rank_and_floor():
    p = np.array([0.2, 0.5, 0.3])
    assert score_char(p, VOCAB, "a").rank == 1
    assert score_char(p, VOCAB, "b").rank == 2
    s = score_char(p, VOCAB, " ")
    assert (s.rank, s.prob, s.known) == (3, 0.2, True)
    assert s.bits == pytest.approx(-math.log2(0.2))
    u = score_char(p, VOCAB, "?")
    assert (u.known, u.rank, u.in_top(3)) == (False, None, False)
    assert u.bits == pytest.approx(39.86313713864835)
    assert float(log2_prob(0.0)) == math.log2(PROB_FLOOR)
    assert np.array_equal(log2_prob(np.array([0.5, 0.0])), [-1.0, math.log2(PROB_FLOOR)])


def test_word_definition():
    assert word_ends("ab  c\td(x)") == [2, 2, -1, -1, 5, -1, 10, 10, 10, 10]
    assert word_completion(StubModel(), 5) == "ab"  # greedy "ab ab" cut at the space


def test_typing_stats_counts():
    stats = TypingStats()
    assert stats.bpc is None and stats.top1_rate is None
    m = StubModel()
    expected_bits = 0.0
    # typed "ab b?": 'a' rank 1 (0.5), 'b' rank 1 (0.6), ' ' rank 1 (0.7), 'b' rank 2 (0.3),
    # '?' unknown: top-1 hits 3, top-3 hits 4, total 5
    for ch, p in zip("ab b", (0.5, 0.6, 0.7, 0.3), strict=True):
        stats.update(m, ch)
        m.feed(ch)
        expected_bits -= math.log2(p)
    s = stats.update(m.probs, "?", vocab=VOCAB)  # the probs-and-vocab form
    expected_bits -= math.log2(PROB_FLOOR)
    assert s.rank is None
    assert (stats.total, stats.top1, stats.top3, stats.unknown) == (5, 3, 4, 1)
    assert stats.bits == pytest.approx(expected_bits)
    assert stats.bpc == pytest.approx(expected_bits / 5)
    assert stats.top1_rate == pytest.approx(3 / 5) and stats.top3_rate == pytest.approx(4 / 5)
    stats.reset()
    assert (stats.total, stats.bits, stats.bpc) == (0, 0.0, None)


def test_empty_text_is_refused():
    with pytest.raises(ValueError):
        bits_per_char(StubModel(), "")


def test_metrics_work_with_the_network_predictor():
    from rnn_tui.engine.config import ModelConfig
    from rnn_tui.engine.model import CharModel, ParamSnapshot
    from rnn_tui.engine.predict import Predictor

    vocab = Vocab("abcde ")
    cfg = ModelConfig(vocab_size=len(vocab), cell="lstm", hidden=8)
    pred = Predictor(ParamSnapshot.of(cfg, vocab, CharModel(cfg, seed=1).params))
    text = "abc de ab"
    walk = pred.clone()
    walk.reset()
    bits = 0.0
    for ch in text:
        bits -= math.log2(walk.probs[vocab.id(ch)])
        walk.feed(ch)
    pred.feed("e")
    before = pred.probs.copy()
    r = evaluate(pred, text)
    assert r.bpc == pytest.approx(bits / len(text), rel=1e-9)
    assert abs(r.bpc - math.log2(len(vocab))) < 0.5  # untrained: about log2 V
    assert np.array_equal(pred.probs, before)


def test_a_byte_mode_model_scores_a_multi_byte_character_as_the_product_of_its_bytes(tmp_path):
    """No character of another script is 'unknown' to a model of UTF-8 bytes: é (C3 A9) costs
    -log2 P(C3) - log2 P(A9 | C3)."""
    import math

    from rnn_tui.engine.corpus import make_corpus
    from rnn_tui.engine.encoding import VocabPolicy
    from rnn_tui.lab.metrics import evaluate
    from rnn_tui.lab.ngram import NgramModel

    text = "café crème, déjà vu; naïve façade. " * 20
    corpus = make_corpus("fr", text, VocabPolicy(byte_mode=True))
    model = NgramModel.fit(corpus.ids.astype(np.int64), order=3, vocab=corpus.vocab)
    probe = "déjà"
    report = evaluate(model, probe, suggestions=())
    assert report.unknown == 0
    m = model.clone()
    m.reset()
    bits = 0.0
    for b in corpus.vocab.encode(probe).tolist():
        bits -= math.log2(float(m.probs[b]))
        m.feed_symbol(b)
    assert report.bpc * len(probe) == pytest.approx(bits, rel=1e-9)
    later = evaluate(model, text[:70], suggestions=())  # in context, memorised: all first
    assert later.unknown == 0 and later.top1 > 0.9


def test_your_typing_scores_a_multi_byte_character_of_a_byte_mode_model_as_evaluate_does():
    """'Your typing' in the app counts é typed to a byte-mode model as its two bytes' product,
    not as unknown, in both forms: a model (its later byte read on a lookahead) and a chunk's
    rows (the session's re-feed)."""
    from rnn_tui.engine.corpus import make_corpus
    from rnn_tui.engine.encoding import VocabPolicy
    from rnn_tui.lab.ngram import NgramModel

    text = "café crème, déjà vu; naïve façade. " * 20
    corpus = make_corpus("fr", text, VocabPolicy(byte_mode=True))
    model = NgramModel.fit(corpus.ids.astype(np.int64), order=3, vocab=corpus.vocab)
    probe = "déjà vu"
    expected = evaluate(model, probe, suggestions=())
    by_model, by_rows = TypingStats(), TypingStats()
    m, rows = model.clone(), []
    m.reset()
    for b in corpus.vocab.encode(probe).tolist():
        rows.append(np.array(m.probs))
        m.feed_symbol(b)
    m.reset()
    j = 0
    for ch in probe:
        n = len(ch.encode("utf-8"))
        by_model.update(m, ch)
        by_rows.update(rows[j], ch, corpus.vocab, later=rows[j + 1 : j + n])
        m.feed(ch)
        j += n
    for stats in (by_model, by_rows):
        assert stats.unknown == 0 and stats.total == len(probe)
        assert stats.bpc == pytest.approx(expected.bpc, rel=1e-9)
        assert stats.top1_rate == pytest.approx(expected.top1, rel=1e-9)
        assert stats.top3_rate == pytest.approx(expected.top3, rel=1e-9)
