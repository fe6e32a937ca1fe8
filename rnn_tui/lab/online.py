"""Models that learn from the text as it is read: what followed each recent context, and what
followed the last time the current context occurred. They are the mixture's "text" side
(`lab/mixture.py`), learning from the text the way dynamic evaluation makes the network learn.

Each starts empty and learns from a character (`learn`) only once the mixture has scored it, so
no prediction ever depends on the character it predicts. A `follow` copy moves on through
guesses (a beam search's, `step`) without learning from them and shares what was learnt, which
it only reads. Both write log-probability rows for the mixture.

TextNgrams: for orders k = 1..K, the counts n(c) of what followed the last k characters in the
text read so far, interpolated downwards with one absolute discount as in Kneser-Ney:

    P_k(c) = (max(n(c) - D, 0) + D u P_{k-1}(c)) / N     (N = sum of n, u = distinct c, P_0 uniform)

An order whose context the text has not shown yet repeats the longest one that it has.

MatchModel: the last earlier occurrence of the current context (at least MIN_MATCH characters,
found through an index of every MIN_MATCH-character string read, then verified backwards for
its length) predicts the character that followed it. How often such a prediction was right is
counted per length bucket, so its row is log q for the predicted character and
log((1 - q) / (V - 1)) for each other; without a match the row is zeros (no say in the mixture).
"""

from __future__ import annotations

import bisect

import numpy as np

DISCOUNT = 0.5  # TextNgrams' absolute discount (its counts are small: Kneser-Ney's D1 range)
TEXT_ORDER = 4  # TextNgrams' longest context (5 and 6 measured no better on stdlib)
MIN_MATCH = 5  # characters that must agree before a match predicts (4 and 6 measured the same)
MAX_MATCH = 48  # a match is verified backwards up to this length
# Memory stays bounded on a long text (eval --max-chars in the millions): past these many
# contexts (about 100-200 MB) the models count only what follows contexts they already have.
MAX_CONTEXTS = 400_000
MAX_INDEXED = 1_000_000
MATCH_BUCKETS = (8, 12, 16, 24, 32)  # match lengths from which a hit rate (and weights) of its own
N_MATCH_BUCKETS = len(MATCH_BUCKETS) + 2  # with no match, and shorter than the first edge


def match_bucket(length: int) -> int:
    """0 without a match; else 1 + how many MATCH_BUCKETS edges `length` reaches."""
    return 0 if length <= 0 else 1 + bisect.bisect_right(MATCH_BUCKETS, length)


class TextNgrams:
    """Counts of the text read so far, orders 1..order (see the module docstring).

    `counts` maps a context, its characters as a str of code points chr(id) (so its length is
    its order), to {id: how often id followed it}. Counts only grow and keys are only added, so a
    `follow` copy on another thread reads a consistent prefix of each (see `rows`).
    """

    def __init__(self, V: int, order: int = TEXT_ORDER, discount: float = DISCOUNT) -> None:
        self.V = V
        self.order = order
        self.discount = discount
        self.counts: dict[str, dict[int, int]] = {}
        self.recent = ""  # the last `order` characters read, as chr(id)

    @property
    def n_rows(self) -> int:
        return self.order

    def rows(self, out: np.ndarray) -> int:
        """Write log P_1..P_order into out (order, V); returns how many orders have seen the
        current context (before anything is read every row is uniform: no say in the mixture)."""
        recent, D, counts = self.recent, self.discount, self.counts
        below = 1.0 / self.V  # P_{k-1}: uniform below order 1
        seen = 0
        for k in range(1, len(recent) + 1):
            after = counts.get(recent[len(recent) - k :])
            if after is None:
                break
            n = len(after)  # (taken once: a learner on another thread may add a character)
            if n == 1:  # one character has followed: the usual case at the longer orders
                i, total = next(iter(after.items()))
                row = np.multiply(below, D / total, out=out[k - 1])
                row[i] += (total - D) / total
            else:
                ids = np.fromiter(after.keys(), np.intp, n)
                c = np.fromiter(after.values(), np.float64, n)
                total = c.sum()
                row = np.multiply(below, D * n / total, out=out[k - 1])
                row[ids] += (c - D) / total  # (every count is at least 1 > D)
            below = row
            seen = k
        if seen:
            np.log(out[:seen], out=out[:seen])
            out[seen:] = out[seen - 1]
        else:
            out[:] = -np.log(self.V)
        return seen

    def learn(self, i: int) -> None:
        """Count character id `i` after every context of the current one, then move on."""
        recent, counts = self.recent, self.counts
        for k in range(1, len(recent) + 1):
            key = recent[len(recent) - k :]
            after = counts.get(key)
            if after is None:
                if len(counts) < MAX_CONTEXTS:
                    counts[key] = {i: 1}
            else:
                after[i] = after.get(i, 0) + 1
        self.step(i)

    def step(self, i: int) -> None:
        """Move the context on by character id `i` without learning from it (a guess)."""
        if self.order:
            self.recent = (self.recent + chr(i))[-self.order :]

    def reset_context(self) -> None:
        self.recent = ""

    def copy(self) -> TextNgrams:
        """An independent copy, which may learn on its own."""
        twin = self.follow()
        twin.counts = {key: dict(after) for key, after in self.counts.items()}
        return twin

    def follow(self) -> TextNgrams:
        """A copy of the context that shares the counts: it must only `step`, never `learn`."""
        twin = object.__new__(TextNgrams)
        twin.__dict__.update(self.__dict__)
        return twin


class MatchModel:
    """The character that followed the longest earlier occurrence of the current context."""

    def __init__(self, V: int, min_match: int = MIN_MATCH) -> None:
        self.V = V
        self.min_match = min_match
        self.history: list[int] = []  # every id learnt
        self.index: dict[str, int] = {}  # min_match chars -> the position after their last time
        self.recent = ""  # the last min_match characters of the context, as chr(id)
        self.ptr = -1  # position in history of the predicted character (-1: no match)
        self.length = 0  # how many characters before the prediction agree
        n = N_MATCH_BUCKETS
        self.hits = np.ones(n)  # per match bucket: predictions right, wrong (a weak prior of 1:1)
        self.misses = np.ones(n)

    @property
    def predicted(self) -> int:
        """The predicted character's id, or -1."""
        return self.history[self.ptr] if 0 <= self.ptr < len(self.history) else -1

    @property
    def bucket(self) -> int:
        return match_bucket(self.length) if self.predicted >= 0 else 0

    def row(self, out: np.ndarray) -> bool:
        """Write the log-domain row into out (V,) (zeros without a match); True with a match."""
        c = self.predicted
        if c < 0:
            out.fill(0.0)
            return False
        b = match_bucket(self.length)
        q = self.hits[b] / (self.hits[b] + self.misses[b])
        out.fill(np.log((1.0 - q) / max(self.V - 1, 1)))
        out[c] = np.log(q)
        return True

    def learn(self, i: int) -> None:
        """Read character id `i` for real: score the match's prediction, extend the history."""
        c = self.predicted
        if c >= 0:
            b = match_bucket(self.length)
            if c == i:
                self.hits[b] += 1.0
            else:
                self.misses[b] += 1.0
        self.history.append(i)
        self._advance(i, len(self.history), learn=True)

    def step(self, i: int) -> None:
        """Move on by a guessed character: follow the match if it agrees, else look again."""
        self._advance(i, -1, learn=False)

    def _advance(self, i: int, end: int, learn: bool) -> None:
        """`end`: the history length when `i` was just appended to it (-1 for a guess)."""
        if self.predicted == i:
            self.ptr += 1
            self.length += 1
        else:
            self.ptr, self.length = -1, 0
        self.recent = (self.recent + chr(i))[-self.min_match :]
        if len(self.recent) < self.min_match:
            return
        if self.ptr < 0:
            found = self.index.get(self.recent, -1)
            if found >= 0 and found != end:
                self.ptr, self.length = found, self._verify(found, end)
        if learn and (len(self.index) < MAX_INDEXED or self.recent in self.index):
            self.index[self.recent] = end

    def _verify(self, found: int, end: int) -> int:
        """How many characters before `found` agree with the context (at least min_match)."""
        n = self.min_match
        if end < 0:  # a guess: the context is not in the history; min_match is all that is known
            return n
        h = self.history
        while n < MAX_MATCH and found - n - 1 >= 0 and h[found - n - 1] == h[end - n - 1]:
            n += 1
        return n

    def reset_context(self) -> None:
        self.recent = ""
        self.ptr, self.length = -1, 0

    def copy(self) -> MatchModel:
        twin = self.follow()
        twin.history = list(self.history)
        twin.index = dict(self.index)
        twin.hits, twin.misses = self.hits.copy(), self.misses.copy()
        return twin

    def follow(self) -> MatchModel:
        """A copy of the context that shares what was learnt (it must only `step`)."""
        twin = object.__new__(MatchModel)
        twin.__dict__.update(self.__dict__)
        return twin
