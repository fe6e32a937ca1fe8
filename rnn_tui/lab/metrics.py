"""How well a next-character model predicts a text: bits per char, top-k accuracy, keystroke savings.

Works with any model that has the prediction interface (`predict.Predictor`, `ngram.NgramModel`,
`ngram.AddKModel`): `vocab`, `reset()`, `feed(ch)`, `probs`, `greedy(max_len, stop_at_word_end)`,
`clone()`. Every probability comes from the model's `probs`; `log2_prob` is the one place where a
probability becomes bits.

Conventions, the same for every function here:

* A text is scored from a fresh state (a `clone()` of the model, `reset()`); the model passed in is
  not changed. Every character of the text counts, whitespace included: `chars == len(text)`.
* A character outside the model's vocabulary is scored honestly as a miss: it is never in the top
  k, it costs `-log2(PROB_FLOOR)` (about 39.9) bits, it is typed by hand for keystroke savings, and
  it is counted in `unknown` so a report can say why the figure is bad. The model is not fed with
  it (`feed` returns False), so it does not become part of the context.
* Ranks break ties by vocabulary order (a stable sort on descending probability; `np.argmax` picks
  the same first character).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from rnn_tui.engine.predict import is_word_end

PROB_FLOOR = 1e-12  # a probability below this counts as this (also the price of an unknown char)
TOPK_REPORTED = (1, 3, 5)
SUGGESTIONS_REPORTED = (1, 3, 5)  # keystroke savings with this many word suggestions shown


def log2_prob(p):
    """log2 of a probability (scalar or array), floored at PROB_FLOOR: the only such formula."""
    return np.log2(np.maximum(p, PROB_FLOOR))


@dataclass(frozen=True)
class CharScore:
    """How the model did on one character: its probability, cost in bits and rank (1 = best)."""

    char: str
    known: bool
    prob: float
    bits: float
    rank: int | None  # None for a character outside the vocabulary

    def in_top(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k


def score_char(probs: np.ndarray, vocab, ch: str) -> CharScore:
    """Score `ch` against the distribution `probs` over `vocab` (before the model is fed `ch`)."""
    i = vocab.id(ch)
    if i is None:
        return CharScore(ch, False, 0.0, -float(log2_prob(0.0)), None)
    return score_symbol(probs, i, ch)


def score_symbol(probs: np.ndarray, i: int, ch: str) -> CharScore:
    """Score symbol id `i` (for the character `ch`) against the distribution `probs`."""
    p = float(probs[i])
    rank = 1 + int(np.count_nonzero(probs > p)) + int(np.count_nonzero(probs[:i] == p))
    return CharScore(ch, True, p, -float(log2_prob(p)), rank)


def char_symbols(vocab, ch: str) -> list[int] | None:
    """The symbol ids a character is scored as (`Vocab.symbols_of`), or None when it cannot be:
    outside the vocabulary, or a byte of it is."""
    ids = vocab.symbols_of(ch)
    whole = len(ch.encode("utf-8", "surrogatepass")) if vocab.byte_mode else 1
    return ids if len(ids) == whole else None


def score_bytes(first: CharScore, later: Iterable[tuple[np.ndarray, int]], ch: str) -> CharScore:
    """A multi-byte character of a byte-mode model: the product of its bytes' probabilities, each
    given the ones before (so bits per character mean the same as a character model's), and a
    hit in the top k when every byte was."""
    prob, bits, rank = first.prob, first.bits, first.rank or 1
    for probs, i in later:
        s = score_symbol(probs, i, ch)
        prob, bits, rank = prob * s.prob, bits + s.bits, max(rank, s.rank or 1)
    return CharScore(ch, True, prob, bits, rank)


def word_ends(text: str) -> list[int]:
    """For every index, the end (exclusive) of the word it is in; -1 for whitespace.

    A word is a maximal run of characters that are not word ends (`predict.is_word_end`:
    whitespace), so punctuation and brackets are part of words: `print(x)` is one word.
    """
    ends = [-1] * len(text)
    end = -1
    for i in range(len(text) - 1, -1, -1):
        if is_word_end(text[i]):
            end = -1
        else:
            if end < 0:
                end = i + 1
            ends[i] = end
    return ends


def word_completion(model, max_len: int) -> str:
    """The model's greedy continuation cut before its first whitespace: its guess at the word end."""
    proposal = model.greedy(max_len=max_len, stop_at_word_end=False)
    for j, ch in enumerate(proposal):
        if is_word_end(ch):
            return proposal[:j]
    return proposal


@dataclass(frozen=True)
class EvalReport:
    """Everything `evaluate` measures in one walk over a text."""

    chars: int  # len(text), every character counted
    bpc: float  # mean -log2 p over all chars
    perplexity: float  # 2 ** bpc
    top1: float
    top3: float
    top5: float
    keystroke_savings: float  # keys saved / chars
    ms_per_char: float  # wall time of the whole walk (scoring + proposals) per char
    unknown: int = 0  # chars outside the vocabulary (scored as misses at PROB_FLOOR)
    topk: dict[int, float] = field(default_factory=dict)  # accuracy for every k asked for
    savings_at: dict[int, float] = field(default_factory=dict)  # savings with k suggestions
    mean_weights: dict[str, float] | None = None  # a mixture's mean weight of each group
    suggest_chars: int = 0  # the first chars over which savings_at was measured


@dataclass
class _Walk:
    chars: int = 0
    unknown: int = 0
    bits: float = 0.0
    hits: dict[int, int] = field(default_factory=dict)
    keys: int = 0  # keys pressed in the keystroke-savings protocol
    keys_at: dict[int, int] = field(default_factory=dict)  # ... with k suggestions
    seconds: float = 0.0
    model: object = None  # the copy that walked the text (a mixture's weights are read from it)
    suggest_chars: int = 0  # characters over which the k-suggestion protocol ran


def _walk(
    model,
    text: str,
    ks: Iterable[int] = (),
    savings: bool = False,
    suggestions: Iterable[int] = (),
    suggest_chars: int | None = None,
) -> _Walk:
    """Score every char of `text` from a fresh state, feeding each char once.

    Keystroke-savings protocol (when `savings`): the user types the text left to right. Before each
    character inside a word (see `word_ends`), unless that word was already accepted, the model
    proposes its greedy completion of the word (`word_completion`: greedy characters up to the first
    whitespace). If the proposal equals the rest of the word exactly (the model must also predict
    the word's end), one accepting key replaces those characters and the word is done (saved =
    len(rest) - 1). Otherwise the user types one character. Whitespace and unknown characters are
    always typed. savings = (chars - keys) / chars.

    Proposals are only asked for when the rest of the word has at least 2 characters (a 1-char rest
    saves nothing). Greedy decoding is deterministic, so when a proposal failed and the user typed
    its first character, the next proposal is the failed one minus that character and fails too:
    it is not asked for again (same result, far fewer calls).

    Keystroke-savings protocol with k suggestions (for each k in `suggestions`; k = 1 included):
    the same walk, but the proposal is the model's k best distinct completions of the word
    (`suggest.suggest`, beam search, best first), as a suggestion bar shows them. If any of them
    equals the rest of the word exactly, one key (the one that selects it) replaces those
    characters. In a script written without spaces (`suggest.completes_phrases`) the k best are
    phrases: one key takes the longest of them that the text goes on with, and the walk goes on
    from its end (more phrases may follow in the same word). Each k is its own user: what was
    accepted under k = 5 does not skip positions for k = 1. The proposals are asked for at every
    position where some k needs them (a beam search is not a prefix of the previous one the way
    a greedy completion is). A beam search costs milliseconds, so `suggest_chars` can limit this
    protocol to the text's first characters (`w.suggest_chars` says over how many it ran).
    """
    from rnn_tui.lab.suggest import PHRASE_LOOK, completes_phrases, suggest

    ks = sorted({int(k) for k in ks if int(k) >= 1})
    sks = sorted({int(k) for k in suggestions if int(k) >= 1})
    kmax = max(sks, default=0)
    limit = len(text) if suggest_chars is None else min(len(text), max(int(suggest_chars), 0))
    accepted_at = dict.fromkeys(sks, 0)
    m = model.clone()
    m.reset()
    vocab = m.vocab
    w = _Walk(chars=len(text), hits=dict.fromkeys(ks, 0), keys_at=dict.fromkeys(sks, 0))
    ends = word_ends(text) if savings or sks else []
    accepted_until = 0  # chars before this index were inserted by an accepted proposal
    failed: str | None = None  # the last failed proposal, still valid while the user follows it
    start = time.perf_counter()
    # Scoring alone: a model that reads a whole text in chunks (`feed_scored`) gives the same
    # distributions in far fewer calls.
    rows = m.feed_scored(text) if not (savings or sks) and hasattr(m, "feed_scored") else None
    row = 0
    for i, ch in enumerate(text):
        probs = m.probs if rows is None else rows[row]
        symbols = char_symbols(vocab, ch)
        if symbols is None:
            s = CharScore(ch, False, 0.0, -float(log2_prob(0.0)), None)
        else:
            s = score_symbol(probs, symbols[0], ch)
        if savings and i >= accepted_until:
            end = ends[i]
            rest = text[i:end] if end > 0 else ""
            if len(rest) >= 2 and failed is None:
                proposal = word_completion(m, len(rest) + 1)
                if proposal == rest:
                    w.keys += 1
                    accepted_until = end
                else:
                    failed = proposal
            if i >= accepted_until:
                w.keys += 1  # typed by hand
            if failed is not None:
                failed = failed[1:] if failed[:1] == ch and end > 0 else None
        if sks and i < limit:
            end = ends[i]
            rest = text[i:end] if end > 0 else ""
            open_ks = [k for k in sks if i >= accepted_at[k]]
            if len(rest) >= 2 and open_ks:
                phrases = completes_phrases(m, text[max(0, i - PHRASE_LOOK) : i])
                shown = [c for c, _ in suggest(m, kmax, phrases=phrases)]
                for k in open_ks:
                    if phrases:  # the longest shown that the text goes on with
                        taken = max(
                            (c for c in shown[:k] if rest.startswith(c)), key=len, default=""
                        )
                        if taken:
                            w.keys_at[k] += 1
                            accepted_at[k] = i + len(taken)
                    elif rest in shown[:k]:
                        w.keys_at[k] += 1
                        accepted_at[k] = end
            for k in open_ks:
                if i >= accepted_at[k]:
                    w.keys_at[k] += 1
        if symbols is None:
            if rows is None:
                m.feed(ch)
        elif len(symbols) == 1:
            if rows is None:
                m.feed(ch)
            row += 1
        else:  # a multi-byte character of a byte-mode model: its later bytes scored as it reads
            later = []
            for j, b in enumerate(symbols):
                if j:
                    later.append(((m.probs if rows is None else rows[row]).copy(), b))
                if rows is None:
                    m.feed_symbol(b)
                row += 1
            s = score_bytes(s, later, ch)
        w.bits += s.bits
        if s.rank is None:
            w.unknown += 1
        else:
            for k in ks:
                if s.rank <= k:
                    w.hits[k] += 1
    w.seconds = time.perf_counter() - start
    w.model = m
    w.suggest_chars = limit if sks else 0
    return w


def _check_text(text: str) -> None:
    if not text:
        raise ValueError("cannot score an empty text")


def bits_per_char(model, text: str) -> float:
    """Mean -log2 p(char | preceding text) over every char of `text` (the cross-entropy in bits)."""
    _check_text(text)
    w = _walk(model, text)
    return w.bits / w.chars


def perplexity(model, text: str) -> float:
    """2 ** bits_per_char: the model is as unsure as a uniform choice among this many chars."""
    return 2.0 ** bits_per_char(model, text)


def top_k_accuracy(model, text: str, ks: Iterable[int] = TOPK_REPORTED) -> dict[int, float]:
    """Fraction of chars that were among the model's k most likely, for each k."""
    _check_text(text)
    w = _walk(model, text, ks)
    return {k: n / w.chars for k, n in w.hits.items()}


def keystroke_savings(model, text: str) -> float:
    """Fraction of keystrokes saved by accepting exact whole-word greedy completions (see `_walk`)."""
    _check_text(text)
    w = _walk(model, text, savings=True)
    return (w.chars - w.keys) / w.chars


def keystroke_savings_at(model, text: str, k: int) -> float:
    """Fraction of keystrokes saved with k word suggestions shown (see `_walk`)."""
    _check_text(text)
    w = _walk(model, text, suggestions=(k,))
    return (w.chars - w.keys_at[k]) / w.chars if k >= 1 else 0.0


def evaluate(
    model,
    text: str,
    ks: Iterable[int] = TOPK_REPORTED,
    suggestions: Iterable[int] = SUGGESTIONS_REPORTED,
    suggest_chars: int | None = None,
) -> EvalReport:
    """All the figures in one walk (one feed per char); top1/top3/top5 are always included.
    Savings with k suggestions are over the first `suggest_chars` characters (all by default)."""
    _check_text(text)
    ks = sorted({int(k) for k in ks} | set(TOPK_REPORTED))
    w = _walk(model, text, ks, savings=True, suggestions=suggestions, suggest_chars=suggest_chars)
    n = w.chars
    bpc = w.bits / n
    topk = {k: w.hits[k] / n for k in ks}
    return EvalReport(
        chars=n,
        bpc=bpc,
        perplexity=2.0**bpc,
        top1=topk[1],
        top3=topk[3],
        top5=topk[5],
        keystroke_savings=(n - w.keys) / n,
        ms_per_char=1000.0 * w.seconds / n,
        unknown=w.unknown,
        topk=topk,
        savings_at={k: (w.suggest_chars - keys) / w.suggest_chars for k, keys in w.keys_at.items()}
        if w.suggest_chars
        else {},
        suggest_chars=w.suggest_chars,
        mean_weights=_mean_weights(w.model),
    )


def _mean_weights(model) -> dict[str, float] | None:
    """A mixture's mean share of the weight of each of its groups of inputs over the walk (None
    for a single model)."""
    labels = getattr(model, "weight_labels", None)
    if labels is None:
        return None
    return {label: float(v) for label, v in zip(labels, model.mean_weights, strict=True)}


@dataclass
class TypingStats:
    """Running counters for the user's own typing ("your typing" in the app).

    Call `update` with the model (or its `probs` and vocab) BEFORE feeding it the typed char.
    Unknown chars count as misses at PROB_FLOOR, like everywhere in this module; a character of
    several bytes typed to a byte-mode model is scored as `evaluate` scores it (`score_bytes`).
    """

    total: int = 0
    top1: int = 0
    top3: int = 0
    unknown: int = 0
    bits: float = 0.0  # sum of -log2 p

    def update(self, model_or_probs, ch: str, vocab=None, later=()) -> CharScore:
        """Count `ch`. Given a model, a multi-byte character's later bytes are scored on a
        lookahead of it; given `probs`, `later` holds the distribution before each later byte."""
        model = None
        if vocab is None:
            model = model_or_probs
            probs, vocab = model.probs, model.vocab
        else:
            probs = model_or_probs
        symbols = char_symbols(vocab, ch)
        if symbols is None:
            s = CharScore(ch, False, 0.0, -float(log2_prob(0.0)), None)
        else:
            s = score_symbol(np.asarray(probs), symbols[0], ch)
            if len(symbols) > 1:
                if model is not None:
                    ahead, later = model.lookahead(), []
                    for b in symbols[:-1]:
                        ahead.feed_symbol(b)
                        later.append(np.array(ahead.probs))
                s = score_bytes(s, zip(later, symbols[1:], strict=True), ch)
        self.total += 1
        self.top1 += s.in_top(1)
        self.top3 += s.in_top(3)
        self.unknown += not s.known
        self.bits += s.bits
        return s

    def reset(self) -> None:
        self.total = self.top1 = self.top3 = self.unknown = 0
        self.bits = 0.0

    @property
    def bpc(self) -> float | None:
        return self.bits / self.total if self.total else None

    @property
    def perplexity(self) -> float | None:
        bpc = self.bpc
        return None if bpc is None else 2.0**bpc

    @property
    def top1_rate(self) -> float | None:
        return self.top1 / self.total if self.total else None

    @property
    def top3_rate(self) -> float | None:
        return self.top3 / self.total if self.total else None


__all__ = [
    "PROB_FLOOR",
    "CharScore",
    "EvalReport",
    "TypingStats",
    "bits_per_char",
    "evaluate",
    "keystroke_savings",
    "keystroke_savings_at",
    "log2_prob",
    "perplexity",
    "score_char",
    "top_k_accuracy",
    "word_completion",
    "word_ends",
]
