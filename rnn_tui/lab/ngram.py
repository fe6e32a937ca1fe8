"""Character n-gram baselines with the Predictor interface: interpolated Kneser-Ney and add-k.

Kneser-Ney, interpolated, "modified" (Chen & Goodman 1998: three discounts D1, D2, D3+ per order),
for a model of order N (contexts of up to N-1 characters), written P_n for order n:

    P_0(c)     = 1 / V                                          (uniform over the vocabulary)
    P_n(c | h) = (max(a(hc) - D(a(hc)), 0) + gamma(h) * P_{n-1}(c | h[1:])) / a(h.)
    gamma(h)   = sum over c of min(a(hc), D(a(hc)))             (the mass the discounts removed)

where a(hc) is the raw count of the n-gram hc at the top order n = N and its continuation count
(the number of distinct characters seen just before hc) at every lower order, a(h.) = the sum over
c. A context never seen at order n (a(h.) = 0) passes P_{n-1} through unchanged, so every
distribution sums to 1 for every context. Discounts per order come from counts of counts n1..n4
of that order's a values: Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
D3+ = 3 - 4Y n4/n3 (clamped to [MIN_DISCOUNT, r]); `discounts="single"` uses D = Y for every count.
`tune` picks the order and a scale for all discounts on validation text.

The context is the last N-1 known characters fed. With fewer (just after `reset`), the highest
order whose context fits is used, with the continuation counts of that order (no padding symbol).

Storage: every n-gram of orders 1..N as sorted int64 keys, found with binary search, so training is
a few `np.unique` calls (about a second per MB of text at order 6). A context of m characters has a
dense id at level m: the id of x[i-m+1..i] is the index of `id(x[i-m+2..i]) * V + x[i-m+1]` in
`levels[m]`; contexts grow leftwards, so all suffixes of a history are found on the way to the
whole. An n-gram is the key `id(its first n-1 chars) * V + its last char` in `tables[n]`.

(Over 400 lines: counting, the discounts and the interpolated lookup are one data structure,
and the lookup must stay vectorised over a whole text; apart they would share its private layout.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.corpus import Vocab
from rnn_tui.engine.errors import ConfigError, CorpusError
from rnn_tui.engine.predict import NextCharModel
from rnn_tui.lab.metrics import log2_prob

MAX_ORDER = 8
DEFAULT_ORDER = 6
MIN_DISCOUNT = 0.05
CACHE_SIZE = 20_000  # distributions kept per model (about 1 KB each for a 100-char vocabulary)
ORDER_CACHE_BYTES = 32 << 20  # stacks of every order's distribution kept (`order_log_probs`)
TUNE_SCALES = (0.7, 0.85, 1.0, 1.15, 1.3)


def _check_order(order: object, hi: int = MAX_ORDER) -> int:
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= hi:
        raise ConfigError(f"n-gram order must be a whole number from 1 to {hi} (got {order!r})")
    return order


@dataclass(frozen=True)
class _Table:
    """The n-grams of one order: sorted keys (context id * V + char) and two counts per key."""

    keys: np.ndarray  # int64, sorted, unique
    raw: np.ndarray  # int64: how often the n-gram occurs
    cont: np.ndarray  # int64: distinct chars seen before it (0 if only at the very start)
    n_contexts: int  # number of context ids at level n-1


_UNUSED = np.zeros(0)  # the order-0 place of lists indexed by order


class NgramCounts:
    """Every n-gram of orders 1..max_order of a text, counted once; read-only, shared by models."""

    def __init__(self, ids: np.ndarray, vocab: Vocab, max_order: int) -> None:
        self.vocab = vocab
        self.V = V = len(vocab)
        self.max_order = max_order
        self.n_chars = T = len(ids)
        x = np.asarray(ids, dtype=np.int64)
        # levels[m]: sorted keys of the m-char contexts; g[i] = id of the m chars ending at i
        self.levels: list[np.ndarray] = [np.zeros(1, np.int64)]
        g_prev = np.zeros(T, np.int64)  # level 0: the empty context, id 0 everywhere
        # tables[n] holds order n; order 0 has no n-grams (an empty table keeps the indices).
        none = np.zeros(0, np.int64)
        self.tables: list[_Table] = [_Table(none, none, none, 1)]
        for n in range(1, max_order + 1):
            # order n: the n-gram ending at i >= n-1 has context x[i-n+1..i-1], id g_prev[i-1]
            ctx = g_prev[n - 2 : T - 1] if n >= 2 else np.zeros(T, np.int64)
            pair = ctx * V + x[n - 1 :]
            keys, raw = np.unique(pair, return_counts=True)
            cont = np.zeros(len(keys), np.int64)
            if n < max_order and T > n:  # continuation counts: distinct left chars x[i-n], i >= n
                combo = np.unique(pair[1:] * V + x[: T - n]) // V
                starts = np.flatnonzero(np.r_[True, combo[1:] != combo[:-1]])
                counts = np.diff(np.r_[starts, len(combo)])
                cont[np.searchsorted(keys, combo[starts])] = counts
            self.tables.append(_Table(keys, raw.astype(np.int64), cont, len(self.levels[-1])))
            if n < max_order:  # level n ids: the n chars ending at i >= n-1
                g = np.full(T, -1, np.int64)
                if T >= n:
                    u, inv = np.unique(g_prev[n - 1 :] * V + x[: T - n + 1], return_inverse=True)
                    g[n - 1 :] = inv.reshape(-1)
                else:
                    u = np.zeros(0, np.int64)
                self.levels.append(u)
                g_prev = g

    def context_ids(self, x: np.ndarray, levels: int) -> np.ndarray:
        """(levels, len(x)) ids: row m, column i = id of the m chars x[i-m..i-1] (-1: unseen/short).

        Column i is the context for predicting x[i]; append a dummy id to get the context after x.
        """
        L = len(x)
        out = np.full((levels, L), -1, np.int64)
        out[0] = 0
        for m in range(1, levels):
            lv = self.levels[m]
            if L <= m or len(lv) == 0:
                break
            prev = out[m - 1, m:]
            key = prev * self.V + x[: L - m]
            j = np.minimum(np.searchsorted(lv, key), len(lv) - 1)
            out[m, m:] = np.where((prev >= 0) & (lv[j] == key), j, -1)
        return out

    def context_ids_after(self, x: Sequence[int], levels: int) -> list[int]:
        """Ids of the contexts of 0..levels-1 chars at the end of `x` (-1: unseen or too short)."""
        out = [0]
        for m in range(1, levels):
            prev = out[-1]
            if m > len(x) or prev < 0:
                out.append(-1)
                continue
            key = prev * self.V + x[len(x) - m]
            lv = self.levels[m]
            j = int(lv.searchsorted(key))
            out.append(j if j < len(lv) and lv[j] == key else -1)
        return out

    def row(self, n: int, ctx: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """The chars seen after context id `ctx` at order n, and their counts (kind raw/cont)."""
        t = self.tables[n]
        lo = ctx * self.V
        s, e = t.keys.searchsorted((lo, lo + self.V))
        return t.keys[s:e] - lo, getattr(t, kind)[s:e]

    def lookup(self, n: int, ctx: np.ndarray, chars: np.ndarray, kind: str) -> np.ndarray:
        """Count (kind "raw" or "cont") of the order-n n-grams (ctx, char); 0 when absent."""
        t = self.tables[n]
        keys = t.keys
        if len(keys) == 0:
            return np.zeros(np.broadcast(ctx, chars).shape, np.int64)
        key = np.maximum(ctx, 0) * self.V + chars
        j = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        found = (keys[j] == key) & (ctx >= 0)
        return np.where(found, getattr(t, kind)[j], 0)

    def counts_of_counts(self, n: int, kind: str) -> tuple[int, int, int, int]:
        a = getattr(self.tables[n], kind)
        n_r = np.bincount(np.minimum(a, 5), minlength=6)
        return int(n_r[1]), int(n_r[2]), int(n_r[3]), int(n_r[4])

    def row_sums(self, n: int, weights: np.ndarray) -> np.ndarray:
        """Sum of per-n-gram `weights` for every context id of order n (float64)."""
        t = self.tables[n]
        return np.bincount(t.keys // self.V, weights=weights, minlength=t.n_contexts).astype(
            np.float64
        )

    @property
    def nbytes(self) -> int:
        return sum(t.keys.nbytes + t.raw.nbytes + t.cont.nbytes for t in self.tables[1:]) + sum(
            lv.nbytes for lv in self.levels
        )


def estimate_discounts(
    n1: int, n2: int, n3: int, n4: int, single: bool = False
) -> tuple[float, float, float]:
    """Chen & Goodman's (D1, D2, D3+) from counts of counts, or (Y, Y, Y) for plain KN.

    Degenerate counts (tiny or repetitive texts, where some n_r is 0) fall back to D = 0.5 for the
    missing ones; each D_r is clamped to [MIN_DISCOUNT, r].
    """
    y = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5
    if single:
        d = (y, y, y)
    else:
        d1 = 1 - 2 * y * n2 / n1 if n1 > 0 and n2 > 0 else 0.5
        d2 = 2 - 3 * y * n3 / n2 if n2 > 0 and n3 > 0 else d1
        d3 = 3 - 4 * y * n4 / n3 if n3 > 0 and n4 > 0 else d2
        d = (d1, d2, d3)
    d1, d2, d3 = (float(min(max(v, MIN_DISCOUNT), r)) for r, v in zip((1, 2, 3), d, strict=True))
    return d1, d2, d3


def _encode_known(vocab: Vocab, text: str) -> tuple[np.ndarray, np.ndarray]:
    """ids of the known chars of `text`, and for each char of `text` its index among them (-1)."""
    index = vocab.id
    ids = [index(c) for c in text]
    known = np.array([i is not None for i in ids], dtype=bool)
    pos = np.full(len(text), -1, np.int64)
    pos[known] = np.arange(int(known.sum()))
    return np.array([i for i in ids if i is not None], dtype=np.int64), pos


class _CountModel(NextCharModel):
    """The prediction interface over shared NgramCounts; subclasses define `_prob_of`."""

    def __init__(self, counts: NgramCounts, order: int) -> None:
        self.counts = counts
        self.vocab = counts.vocab
        self.order = _check_order(order, counts.max_order)
        self._keep = counts.max_order - 1  # history kept: enough for any order up to max_order
        self._cache: dict[str, np.ndarray] = {}
        self._history = ""

    # --- what subclasses define -------------------------------------------------------------
    def _prob_of(self, ctx: np.ndarray, hist_len: np.ndarray, chars: np.ndarray) -> np.ndarray:
        """P(chars | contexts); ctx = rows of `context_ids` (broadcasts against chars)."""
        raise NotImplementedError

    # --- the prediction interface ------------------------------------------------------------
    @property
    def context(self) -> str:
        """The characters the next prediction is conditioned on (the last order-1 fed)."""
        return (
            self._history[max(len(self._history) - self.order + 1, 0) :] if self.order > 1 else ""
        )

    def reset(self) -> None:
        self._history = ""

    def feed(self, ch: str) -> bool:
        # (the unknown symbol's for a rare character, if there is one; in byte mode a
        # multi-byte character's bytes, in turn, as the network reads it)
        ids = self.vocab.symbols_of(ch)
        for i in ids:
            self.feed_symbol(i)
        return bool(ids)

    def feed_symbol(self, i: int) -> None:
        h = self._history + self.vocab.chars[i]
        self._history = h[-self._keep :] if self._keep else ""

    @property
    def probs(self) -> np.ndarray:
        """The next-char distribution, (V,) float64 summing to 1; read-only (cached, shared)."""
        ctx = self.context
        p = self._cache.get(ctx)
        if p is None:
            p = self._distribution(ctx)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[ctx] = p
        return p

    def _distribution(self, context: str) -> np.ndarray:
        known = self.vocab.symbol_ids(context)  # (the history holds symbols: bytes in byte mode)
        ids = self.counts.context_ids_after(known, self.order)
        p = self._dist_of(ids, len(context))
        p.flags.writeable = False
        return p

    def _dist_of(self, ctx: list[int], hist_len: int) -> np.ndarray:
        """The whole next-char distribution for one history (ids from `context_ids_after`).

        The same arithmetic as `_prob_of` (a test holds them bit for bit equal), on one row of
        counts per order instead of V binary searches: this is the path a keystroke takes.
        """
        raise NotImplementedError

    def clone(self):
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)  # counts, cache and settings shared; history copied
        return twin

    def log2_probs(self, text: str, context: str = "") -> np.ndarray:
        """log2 P(char | preceding chars) for every char of `text`, all at once (no state change).

        Starts from `context` (default: a fresh state), exactly as feeding char by char would:
        unknown chars get log2(PROB_FLOOR) and are not part of later contexts.
        """
        ids, pos = _encode_known(self.vocab, context + text)
        ctx = self.counts.context_ids(ids, self.order)
        hist_len = np.arange(len(ids))
        p = self._prob_of(ctx, hist_len, ids) if len(ids) else np.zeros(1)
        out = log2_prob(np.where(pos >= 0, p[np.maximum(pos, 0)], 0.0))
        return out[len(context) :]

    def bits_per_char(self, text: str) -> float:
        """Mean -log2 p over the chars of `text` from a fresh state (same figure as metrics')."""
        if not text:
            raise ValueError("cannot score an empty text")
        return float(-self.log2_probs(text).mean())


class NgramModel(_CountModel):
    """Interpolated modified Kneser-Ney character model of order 1..8 (see the module docstring)."""

    name = "kn"

    def __init__(
        self, counts: NgramCounts, order: int | None = None, discounts=None, scale: float = 1.0
    ) -> None:
        super().__init__(counts, counts.max_order if order is None else order)
        self.discount_spec = "modified" if discounts is None else discounts
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < 10:
            raise ConfigError(f"the discount scale must be a number in (0, 10) (got {scale!r})")
        self.scale = float(scale)
        self._set_discounts()

    @classmethod
    def fit(
        cls,
        text: str | np.ndarray,
        order: int = DEFAULT_ORDER,
        vocab: Vocab | None = None,
        discounts=None,
    ) -> NgramModel:
        """Count `text` (a str, or int ids of `vocab`) and build the model.

        Chars outside `vocab` (default: the text's own) are dropped, as `feed` would skip them.

        discounts: None or "modified" (three per order, estimated), "single" (one per order,
        n1 / (n1 + 2 n2)), a number (the same D everywhere), or one number or (D1, D2, D3+) per
        order 1..order.
        """
        return cls(fit_counts(text, order, vocab), order, discounts)

    def _set_discounts(self) -> None:
        spec, order, c = self.discount_spec, self.order, self.counts
        per_order: list[tuple[float, ...]] = [(0.0, 0.0, 0.0)]
        for n in range(1, order + 1):
            kind = "raw" if n == order else "cont"
            d: tuple[float, ...]
            if spec in ("modified", "single"):
                d = estimate_discounts(*c.counts_of_counts(n, kind), single=spec == "single")
            elif isinstance(spec, (int, float)):
                d = (float(spec),) * 3
            elif isinstance(spec, Sequence) and len(spec) >= order:
                v = spec[n - 1]
                d = tuple(float(x) for x in v) if isinstance(v, Sequence) else (float(v),) * 3
            else:
                raise ConfigError(
                    f"discounts must be 'modified', 'single', a number or one per order 1..{order} (got {spec!r})"
                )
            if len(d) != 3 or not all(math.isfinite(v) and v >= 0 for v in d):
                raise ConfigError(f"discounts must be numbers >= 0 (got {d!r} for order {n})")
            per_order.append(d)
        self.discounts = tuple(per_order[1:])  # as estimated or given, before `scale`
        # per order n = 1..order, at index n (index 0, order 0, is unused)
        self._D: list[np.ndarray] = [_UNUSED]
        self._total: list[np.ndarray] = [_UNUSED]
        self._gamma: list[np.ndarray] = [_UNUSED]
        for n in range(1, order + 1):
            kind = "raw" if n == order else "cont"
            D = np.minimum(np.array((0.0, *per_order[n])) * self.scale, (0, 1, 2, 3))
            a = getattr(c.tables[n], kind)
            removed = np.minimum(a, D[np.minimum(a, 3)])
            self._D.append(D)
            self._total.append(c.row_sums(n, a))
            self._gamma.append(c.row_sums(n, removed))
        self._cache = {}
        self._order_cache: dict[str, np.ndarray] = {}

    def _prob_of(self, ctx, hist_len, chars):
        V, c = len(self.vocab), self.counts
        p = np.full(np.broadcast(ctx[0], chars).shape, 1.0 / V)
        for n in range(1, self.order + 1):
            if len(self._total[n]) == 0:
                break  # no context of n-1 chars in the text (shorter than the order)
            kind = "raw" if n == self.order else "cont"
            cx = ctx[n - 1]
            safe = np.maximum(cx, 0)
            tot = np.where(cx >= 0, self._total[n][safe], 0.0)
            a = c.lookup(n, cx, chars, kind)
            D = self._D[n]
            kept = np.maximum(a - D[np.minimum(a, 3)], 0.0)
            has = tot > 0
            p = np.where(has, (kept + self._gamma[n][safe] * p) / np.where(has, tot, 1.0), p)
        return p

    def _dist_of(self, ctx, hist_len, rows=None):
        """(`rows`, when given, receives P_n for each order n = 1.. whose context was seen.)"""
        V, c = len(self.vocab), self.counts
        p = np.full(V, 1.0 / V)
        for n in range(1, self.order + 1):
            cx = ctx[n - 1]
            if cx < 0:
                break  # a longer context cannot have been seen either
            tot = self._total[n][cx]
            if tot > 0:
                chars, a = c.row(n, cx, "raw" if n == self.order else "cont")
                D = self._D[n]
                p = self._gamma[n][cx] * p
                p[chars] += np.maximum(a - D[np.minimum(a, 3)], 0.0)
                p /= tot
                if rows is not None:
                    rows.append(p)
        return p

    @property
    def order_log_probs(self) -> np.ndarray:
        """log P_1 .. log P_k for the current context, (k, V) float32: every order whose context
        the text has seen (k = 0 when not even order 1's has), lowest first; read-only.

        The mixture takes each order as a model of its own: how far to trust a longer context
        is then learnt from how the orders have been doing, not fixed by the discounts. (Logs,
        as the mixture uses them; float32 keeps twice as many contexts in the cache.)
        """
        ctx = self.context
        stack = self._order_cache.get(ctx)
        if stack is None:
            known = self.vocab.symbol_ids(ctx)
            rows: list[np.ndarray] = []
            self._dist_of(self.counts.context_ids_after(known, self.order), len(ctx), rows)
            stack = np.log(np.array(rows, np.float32).reshape(len(rows), len(self.vocab)))
            stack.flags.writeable = False
            if len(self._order_cache) * stack.nbytes >= ORDER_CACHE_BYTES:
                self._order_cache.clear()
            self._order_cache[ctx] = stack
        return stack

    def with_settings(self, order: int | None = None, scale: float | None = None) -> NgramModel:
        """A model over the same counts with another order (<= the counted one) or discount scale."""
        return NgramModel(
            self.counts,
            self.order if order is None else order,
            self.discount_spec,
            self.scale if scale is None else scale,
        )

    def tune(
        self,
        val_text: str,
        orders: Sequence[int] | None = None,
        scales: Sequence[float] = TUNE_SCALES,
    ) -> dict:
        """Pick the order and discount scale with the lowest bpc on `val_text`; keep them.

        Returns {(order, scale): bpc} for every pair tried. The history fed so far is kept.
        """
        orders = list(orders) if orders is not None else list(range(1, self.counts.max_order + 1))
        results: dict[tuple[int, float], float] = {}
        for n in orders:
            for s in scales:
                results[(n, float(s))] = self.with_settings(n, s).bits_per_char(val_text)
        (best_order, best_scale) = min(results, key=results.__getitem__)
        self.order, self.scale = _check_order(best_order, self.counts.max_order), best_scale
        self._set_discounts()
        return results

    def __repr__(self) -> str:
        return f"NgramModel(order={self.order}, discounts={self.discount_spec!r}, scale={self.scale:g})"


class AddKModel(_CountModel):
    """Add-k (k = 1: Laplace) n-gram: P(c | h) = (count(hc) + k) / (count(h) + k V), no backoff.

    The context is the last order-1 chars (fewer just after `reset`); an unseen context gives the
    uniform distribution.
    """

    name = "add-k"

    def __init__(self, counts: NgramCounts, order: int | None = None, k: float = 1.0) -> None:
        super().__init__(counts, counts.max_order if order is None else order)
        if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
            raise ConfigError(f"add-k needs k > 0 (got {k!r})")
        self.k = float(k)
        self._total = [_UNUSED] + [
            counts.row_sums(n, counts.tables[n].raw) for n in range(1, self.order + 1)
        ]

    @classmethod
    def fit(
        cls, text: str | np.ndarray, order: int = 4, vocab: Vocab | None = None, k: float = 1.0
    ) -> AddKModel:
        """Count `text` (a str, or int ids of `vocab`); see `NgramModel.fit`."""
        return cls(fit_counts(text, order, vocab), order, k)

    def _prob_of(self, ctx, hist_len, chars):
        m = np.minimum(hist_len, self.order - 1)  # context length used at each position
        cx = ctx[m, np.arange(ctx.shape[1])]
        a = np.zeros(np.broadcast(cx, chars).shape)
        tot = np.zeros(cx.shape)
        for n in range(1, self.order + 1):
            sel = m == n - 1
            if sel.any() and len(self._total[n]):
                c_n = np.where(sel, cx, -1)
                a = np.where(sel, self.counts.lookup(n, c_n, chars, "raw"), a)
                tot = np.where(c_n >= 0, self._total[n][np.maximum(c_n, 0)], tot)
        return (a + self.k) / (tot + self.k * len(self.vocab))

    def _dist_of(self, ctx, hist_len):
        n = min(hist_len, self.order - 1) + 1
        cx = ctx[n - 1]
        a = np.zeros(len(self.vocab))
        tot = 0.0
        if cx >= 0:
            chars, counts = self.counts.row(n, cx, "raw")
            a[chars] = counts
            tot = self._total[n][cx]
        return (a + self.k) / (tot + self.k * len(self.vocab))

    def __repr__(self) -> str:
        return f"AddKModel(order={self.order}, k={self.k:g})"


def fit_counts(text: str | np.ndarray, order: int, vocab: Vocab | None = None) -> NgramCounts:
    """Count every n-gram of orders 1..order of `text`: a str (chars outside `vocab` dropped) or
    the int ids of `vocab` (e.g. `Corpus.split()`'s training ids)."""
    _check_order(order)
    if isinstance(text, str):
        vocab = Vocab.from_text(text) if vocab is None else vocab
        ids = vocab.encode(text, unknown="skip")
    else:
        ids = np.asarray(text)
        if vocab is None or ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError("counting ids needs a 1-d integer array and its vocab")
        if len(ids) and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise ValueError(f"ids must be in [0, {len(vocab)})")
    if len(ids) == 0:
        raise CorpusError("the n-gram model needs some training text in its vocabulary")
    return NgramCounts(ids, vocab, order)


__all__ = [
    "MAX_ORDER",
    "AddKModel",
    "NgramCounts",
    "NgramModel",
    "estimate_discounts",
    "fit_counts",
]
