"""Word suggestions: the k most likely distinct completions of the current word, by beam search.

A completion is the rest of the word, c_1..c_n (n >= MIN_LEN, none of them a word end), and its
probability is P(c_1..c_n, then a word end | context): the model must also expect the word to
stop there. A one-character completion is never offered: taking it costs the key it saves, so
it would only hold a place a longer one could use. Beam search over characters keeps the `beam` most probable unfinished prefixes per
length; every expansion by a word end finishes a candidate. Probabilities only shrink as a prefix
grows, so the search stops as soon as the k-th finished candidate beats every open prefix: then
the answer is exact for what the beam kept.

Cost per call is bounded by beam x max_len model steps (a clone and a feed each), with each
step's state copied from its parent's (incremental, no re-reading of the context).
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from rnn_tui.engine.predict import is_word_end

DEFAULT_BEAM = 6
DEFAULT_MAX_LEN = 24  # characters; longer words are offered once fewer are left to type
MIN_LEN = 2
BRANCH = 4  # characters tried after each prefix: beyond the 4th most likely, never in a top 3-5


def word_end_ids(vocab) -> np.ndarray:
    return np.array([is_word_end(c) for c in vocab.chars], dtype=bool)


def suggest(
    model,
    k: int = 3,
    beam: int = DEFAULT_BEAM,
    max_len: int = DEFAULT_MAX_LEN,
    branch: int = BRANCH,
    min_len: int = MIN_LEN,
) -> list[tuple[str, float]]:
    """Up to k (completion, probability) pairs, distinct, most probable first; `model` unchanged."""
    if k < 1:
        return []
    vocab = model.vocab
    ends = word_end_ids(vocab)
    chars = vocab.chars
    done: list[tuple[float, str]] = []  # (log prob, completion), kept as a min-heap of size k
    root = model.lookahead()
    frontier = [(0.0, "", root)]
    for depth in range(max_len + 1):
        grown: list[tuple[float, str, Any, int]] = []
        for logp, text, m in frontier:
            p = m.probs
            if text and len(text) >= min_len:
                end_p = float(p[ends].sum())
                if end_p > 0:
                    _push(done, k, (logp + math.log(end_p), text))
            if depth == max_len:
                continue
            # The `branch` most likely characters that continue the word.
            cont = np.where(ends, -1.0, p)
            top = np.argpartition(-cont, min(branch, len(cont) - 1))[:branch]
            for i in top:
                pi = float(cont[i])
                if pi <= 0:
                    continue
                grown.append((logp + math.log(pi), text + chars[i], m, int(i)))
        if not grown:
            break
        grown.sort(key=lambda g: -g[0])
        grown = grown[:beam]
        if len(done) == k and grown[0][0] <= done[0][0]:
            break  # no open prefix can beat the k-th finished completion any more
        frontier = []
        for logp, text, parent, i in grown:
            child = parent.lookahead()
            child.feed(chars[i])
            frontier.append((logp, text, child))
    return [(text, math.exp(lp)) for lp, text in sorted(done, key=lambda d: (-d[0], d[1]))]


def _push(heap: list, k: int, item: tuple[float, str]) -> None:
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)
