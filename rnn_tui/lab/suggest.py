"""Word suggestions: the k most likely distinct completions of the current word, by beam search.

A completion is the rest of the word, c_1..c_n (n >= MIN_LEN, none of them a word end), and its
probability is P(c_1..c_n, then a word end | context): the model must also expect the word to
stop there. A one-character completion is never offered: taking it costs the key it saves, so
it would only hold a place a longer one could use. Beam search over the model's symbols keeps
the `beam` most probable unfinished prefixes per length; every expansion by a word end finishes a
candidate. Probabilities only shrink as a prefix grows, so the search stops as soon as the k-th
finished candidate beats every open prefix: then the answer is exact for what the beam kept.

In a script written without spaces between words (`predict.spaceless`: Chinese, Japanese, Thai,
...) the run up to the next space is a clause or a whole line, which no completion reaches: there
(`completes_phrases`) the suggestions are phrases instead, the next 2 to PHRASE_MAX_LEN
characters, ranked by the keys they would save, P(c_1..c_n) x (n - 1); one is taken when the text
goes on with it, and more phrases follow.

A completion less probable than MIN_PROB is never offered: where the word most likely ends here,
the bar is empty rather than full of junk.

Cost per call is bounded by beam x max_len model steps (a clone and a feed each; in byte mode up
to 4 a character), with each step's state copied from its parent's (incremental, no re-reading of
the context).
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from rnn_tui.engine.encoding import UNKNOWN, utf8_need
from rnn_tui.engine.predict import current_word, ends_word, spaceless, top_characters

DEFAULT_BEAM = 6
DEFAULT_MAX_LEN = 24  # characters; longer words are offered once fewer are left to type
MIN_LEN = 2
BRANCH = 4  # characters tried after each prefix: beyond the 4th most likely, never in a top 3-5
PHRASE_MAX_LEN = 8  # characters: three such phrases of double-width characters fill 80 columns
PHRASE_LOOK = 8  # the typed characters that say whether the current word is a phrase
# Below this probability a completion is not offered: it saves under 0.03 keys on average and
# fills the bar with junk where the word is most likely complete (after "better", "betterut").
MIN_PROB = 1e-3


def word_end_ids(vocab) -> np.ndarray:
    """Which symbols end a word (`predict.ends_word`), as a mask over the vocabulary."""
    return np.array([ends_word(vocab, c) for c in vocab.chars], dtype=bool)


def spaceless_word(text: str) -> bool:
    """Whether the word `text` ends in is in a script written without spaces, by its last
    PHRASE_LOOK characters (a clause without spaces can be long: only its end is read)."""
    return any(spaceless(c) for c in current_word(text, PHRASE_LOOK))


def completes_phrases(model, text: str) -> bool:
    """Whether the suggestions after `text` (which `model` has read; only its end matters) are
    phrases: the word it ends in is in a script written without spaces (`spaceless_word`) or,
    before that word's first character, the most likely next one is."""
    if current_word(text, PHRASE_LOOK):
        return spaceless_word(text)
    vocab = model.vocab
    if vocab.byte_mode:  # (a byte alone does not say its script: the likeliest whole character)
        top = top_characters(model, 1)
        return bool(top) and spaceless(top[0][0])
    return spaceless(vocab.chars[int(np.argmax(model.probs))])


def word_suggestions(model, k: int = 3, text: str = "") -> list[str]:
    """What the suggestion bar shows after `text` (which `model` has read): the k best distinct
    completions of the word it ends in, best first, or the next phrases in a script written
    without spaces (without `text`, by the character the model expects most)."""
    return [w for w, _ in suggest(model, k, phrases=completes_phrases(model, text))]


def suggest(
    model,
    k: int = 3,
    beam: int = DEFAULT_BEAM,
    max_len: int | None = None,
    branch: int = BRANCH,
    min_len: int = MIN_LEN,
    phrases: bool = False,
    min_prob: float = MIN_PROB,
) -> list[tuple[str, float]]:
    """Up to k (completion, probability) pairs, distinct, best first; `model` unchanged.

    Words (the default): completions of the word, most probable first, each followed by a word end
    (up to DEFAULT_MAX_LEN characters). None less probable than `min_prob`, so fewer than k
    (or none) where the word most likely ends here. `phrases`: continuations of 2 to PHRASE_MAX_LEN characters
    with no word end in them, the most keys saved first (probability x (length - 1)).

    The search walks the model's symbols. In byte mode those are UTF-8 bytes: a prefix counts its
    whole characters (`min_len` and `max_len` are characters), a word can only end after a whole
    one, and a completion is the text its bytes decode to. The unknown symbol is never offered.
    """
    if k < 1:
        return []
    if max_len is None:
        max_len = PHRASE_MAX_LEN if phrases else DEFAULT_MAX_LEN
    # A finished candidate's score: log P(it, then a word end), or for a phrase log of the keys it
    # saves. An open prefix's best extension scores at most `bound` above its log P.
    bound = math.log(max(max_len - 1, 1)) if phrases else 0.0
    floor = math.log(min_prob) if min_prob > 0 else -math.inf
    vocab = model.vocab
    ends = word_end_ids(vocab)
    byte_mode = vocab.byte_mode
    codes = vocab.codes.tolist() if byte_mode else None
    never = ends.copy()  # (nor the unknown symbol: no typed word is made of it)
    if vocab.unknown:
        never[vocab.id(UNKNOWN)] = True
    done: list[tuple[float, str, float]] = []  # (score, completion, log prob): a min-heap of k
    # A prefix: (log prob, its symbols, whole characters, continuation bytes still due, model).
    frontier: list[tuple[float, tuple[int, ...], int, int, Any]] = [
        (0.0, (), 0, 0, model.lookahead())
    ]
    for _ in range(max_len * (4 if byte_mode else 1) + 1):  # (a character: up to 4 bytes)
        grown: list[tuple[float, tuple[int, ...], int, int, Any, int]] = []
        for logp, ids, length, due, m in frontier:
            p = m.probs
            if due == 0 and length >= min_len:
                if phrases:
                    lp, score = logp, logp + math.log(length - 1)
                else:
                    end_p = float(p[ends].sum())
                    lp = score = logp + math.log(end_p) if end_p > 0 else -math.inf
                if lp > -math.inf and lp >= floor and (len(done) < k or score >= done[0][0]):
                    _push(done, k, (score, vocab.decode(ids), lp))  # (decode only what enters)
            if length >= max_len and due == 0:
                continue
            # The `branch` most likely symbols that continue the word.
            cont = np.where(never, -1.0, p)
            top = np.argpartition(-cont, min(branch, len(cont) - 1))[:branch]
            for i in top:
                pi = float(cont[i])
                if pi <= 0:
                    continue
                d = 0
                if codes is not None:  # a byte: does it start, go on with or end a character?
                    need = utf8_need(codes[i])
                    if need == -2 or (need == -1) != (due > 0):
                        continue  # not UTF-8 here: no text holds it
                    d = due - 1 if need == -1 else need
                n = length + (d == 0)  # (a character counts once it is whole)
                grown.append((logp + math.log(pi), (*ids, int(i)), n, d, m, int(i)))
        grown = [g for g in grown if g[0] >= floor]  # (a prefix only loses probability)
        if not grown:
            break
        grown.sort(key=lambda g: -g[0])
        grown = grown[:beam]
        if len(done) == k and grown[0][0] + bound <= done[0][0]:
            break  # no open prefix can beat the k-th finished completion any more
        frontier = []
        for logp, ids, length, due, parent, i in grown:
            child = parent.lookahead()
            child.feed_symbol(i)
            frontier.append((logp, ids, length, due, child))
    return [(text, math.exp(lp)) for _, text, lp in sorted(done, key=lambda d: (-d[0], d[1]))]


def _push(heap: list, k: int, item: tuple[float, str, float]) -> None:
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)
