"""Context mixing: the network, every order of the n-gram and models of the text being read,
mixed character by character with weights that learn online.

Inputs. Each model contributes rows of log-probabilities over the vocabulary, stacked in a
matrix F (one row per input): the network one row, the Kneser-Ney model one per order
(`NgramModel.order_log_probs`; an order whose context was never seen repeats the longest one that
was), and the models of the text read so far (`lab/online.py`): its own n-grams, one row per
order, and a match model.

Mixing is geometric (a product of experts: logistic mixing over a whole alphabet):

    p(c) = (1 - EPS) softmax(z)(c) + EPS / V,      z(c) = sum_i w_i F[i, c]

so p sums to 1 and no p(c) is ever 0. The weights learn online from the mixture's own log
loss; for a softmax of a linear function its gradient is

    g_i = -d(-log p(x)) / d w_i = F[i, x] - sum_c p(c) F[i, c]

(EPS left out): an input that gave the character more than the mixture expected, in its own
log units, gains weight. As in context-mixing compressors the weights depend on small contexts:
each selector (how long the match is; how long a context the corpus and the text have seen;
how sure the network and the n-gram are; what kind of characters came last) owns a table of
weight vectors, the weights used are the sum of the vector each selector picks, and each picked
vector takes the step

    v <- v + (g^2 - v) / min(uses, HORIZON),      w <- w + RATE g / (sqrt(v) + 1e-3)

RMS-normalised (as Adam's second moment), so the step does not depend on how many bits the
inputs span, which varies with the vocabulary and the text. A character is scored (`probs`)
before `feed` shows it to the weights or to the models of the text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from rnn_tui.engine.predict import NextCharModel
from rnn_tui.lab.ngram import NgramModel
from rnn_tui.lab.online import N_MATCH_BUCKETS, MatchModel, TextNgrams

RATE = 0.001  # step of each picked weight vector (RMS-normalised: about the change per weight)
HORIZON = 1000  # characters over which a vector's mean square gradient is averaged
EPS = 1e-6  # the uniform share that keeps every probability above zero
FLOOR = 1e-9  # an input's probability is floored here before its log
CONFIDENCE_EDGES = (0.3, 0.6, 0.9)  # largest-probability buckets of the first two models
TEXT_LABEL = "text"  # the models of the text being read, in the weights shown
# Starting weights, rounded from those learnt over the first 20,000 held-out characters of
# `stdlib`: the n-gram's top order, any other model's row, the text's top order and the match.
# They sum to about 1 (a geometric mean); learning moves them within a few hundred characters.
PRIOR_NGRAM, PRIOR_MODEL, PRIOR_TEXT, PRIOR_MATCH = 0.5, 0.3, 0.1, 0.25


def confidence_bucket(top: float) -> int:
    """The bucket of a model's largest probability `top`."""
    return bisect.bisect_right(CONFIDENCE_EDGES, top)


def char_class(ch: str) -> int:
    """0 none yet, 1 whitespace, 2 lower-case, 3 upper-case, 4 digit, 5 anything else."""
    if not ch:
        return 0
    if ch.isspace():
        return 1
    if ch.islower():
        return 2
    if ch.isupper():
        return 3
    if ch.isdigit():
        return 4
    return 5


N_CLASSES = 6


class MixtureModel(NextCharModel):
    """Context mixing of next-character models over one vocabulary (see the module docstring).

    `labels` name the models (the weights shown in the app and reported by `eval`); the models
    of the text being read are one more group, TEXT_LABEL (`read_text=False` leaves them out).
    `learn=False` freezes the weights and the models of the text. `share` keeps the caller's
    models instead of copies: the caller then feeds them only through the mixture, or feeds them
    itself and calls `follow_text` (the session's re-feed after an edit).
    """

    def __init__(
        self,
        models: Sequence[NextCharModel],
        labels: Sequence[str] | None = None,
        rate: float = RATE,
        learn: bool = True,
        share: bool = False,
        read_text: bool = True,
        prior: Sequence[float] | None = None,
    ) -> None:
        if len(models) < 1:
            raise ValueError("a mixture needs at least one model")
        vocab = models[0].vocab
        for m in models[1:]:
            if m.vocab != vocab:
                raise ValueError("the models of a mixture must share a vocabulary")
        # Its own copies, since feeding them is the mixture's job.
        self.models = list(models) if share else [m.clone() for m in models]
        self.labels = list(labels) if labels else [f"model {i}" for i in range(len(models))]
        self.vocab = vocab
        self.V = V = len(vocab)
        self.rate = rate
        self.learn = learn
        self.read_text = read_text
        # F's rows: each model's (an n-gram's orders 1..N, lowest first), then the text's.
        self._spans: list[tuple[int, int]] = []
        k = 0
        for m in self.models:
            n = max(_orders(m), 1)
            self._spans.append((k, k + n))
            k += n
        self._new_text_models()
        n_text = self.text.n_rows + 1 if read_text else 0
        self._text_span = (k, k + n_text)
        self.K = K = k + n_text
        # One table of weight vectors per selector (see `_fill`), stacked: rows
        # offset[s] .. offset[s + 1] are selector s's.
        top_order = max(_orders(m) for m in self.models)
        self._text_orders = self.text.order if read_text else 0
        sizes = [
            1,  # always the same vector: what holds everywhere
            N_MATCH_BUCKETS if read_text else 1,
            (top_order + 1) * (self._text_orders + 1),
            (len(CONFIDENCE_EDGES) + 1) ** min(len(self.models), 2),
            N_CLASSES * N_CLASSES,
        ]
        self._offsets = np.cumsum([0, *sizes[:-1]])
        self.W = np.zeros((sum(sizes), K))
        self.W[0] = self._prior(prior)
        self._W0 = self.W.copy()
        self.ms = np.zeros_like(self.W)  # each vector's running mean square gradient
        self.uses = np.zeros(len(self.W))
        self.F = np.zeros((K, V))
        self._z = np.empty(V)
        self._p = np.empty(V)
        self._soft = np.empty(V)
        self._w = np.zeros(K)
        self._rows = self._offsets.copy()
        self._history = ""  # the last two characters fed (for the character-class selector)
        self.weight_sum = np.zeros(K)  # for the mean weights over everything scored
        self.scored = 0
        self._cached = False
        self._lookahead = False

    def _new_text_models(self) -> None:
        self.text = TextNgrams(self.V)
        self.match = MatchModel(self.V)

    def _prior(self, prior: Sequence[float] | None) -> np.ndarray:
        """The starting weights (see PRIOR_*); `prior` gives each model's weight instead."""
        w = np.zeros(self.K)
        for j, (m, (_, hi)) in enumerate(zip(self.models, self._spans, strict=True)):
            if prior is not None:
                w[hi - 1] = prior[j]
            else:
                w[hi - 1] = PRIOR_NGRAM if _orders(m) else PRIOR_MODEL
        if self.read_text:
            lo, hi = self._text_span
            w[hi - 2], w[hi - 1] = PRIOR_TEXT, PRIOR_MATCH
        return w

    # -- mixing ----------------------------------------------------------------------------------
    def _fill(self) -> None:
        """F's rows for the current context, and the weight vector each selector picks."""
        F = self.F
        ngram_seen = 0
        sure: list[int] = []
        for m, (lo, hi) in zip(self.models, self._spans, strict=True):
            if hi - lo > 1:
                assert isinstance(m, NgramModel)  # (see `_orders`)
                stack = m.order_log_probs  # (never -inf: every order keeps a share for all)
                k = len(stack)
                ngram_seen = max(ngram_seen, k)
                if k:
                    F[lo : lo + k] = stack
                    F[lo + k : hi] = F[lo + k - 1]
                else:
                    F[lo:hi] = -np.log(self.V)
                top = float(np.exp(stack[-1].max())) if k else 1.0 / self.V
            else:
                p = m.probs
                np.log(np.maximum(p, FLOOR), out=F[lo])
                top = float(p.max())
            if len(sure) < 2:
                sure.append(confidence_bucket(top))
        match = text_seen = 0
        if self.read_text:
            lo, hi = self._text_span
            text_seen = self.text.rows(F[lo : hi - 1])
            self.match.row(F[hi - 1])
            match = self.match.bucket
        confident = 0
        for b in sure:
            confident = confident * (len(CONFIDENCE_EDGES) + 1) + b
        h = self._history
        self._rows[1:] = self._offsets[1:] + (
            match,
            ngram_seen * (self._text_orders + 1) + text_seen,
            confident,
            char_class(h[-1:]) * N_CLASSES + char_class(h[-2:-1]),
        )

    def _mix(self) -> None:
        if self._cached:
            return
        self._fill()
        w = self.W[self._rows].sum(axis=0, out=self._w)
        z = np.matmul(w, self.F, out=self._z)
        z -= z.max()
        soft = np.exp(z, out=self._soft)
        soft /= soft.sum()
        np.multiply(soft, 1.0 - EPS, out=self._p)
        self._p += EPS / self.V
        self._cached = True

    @property
    def probs(self) -> np.ndarray:
        self._mix()
        return self._p

    @property
    def weight_labels(self) -> list[str]:
        """The groups of `weights`: the models' labels, then the text's."""
        return self.labels + ([TEXT_LABEL] if self.read_text else [])

    @property
    def weights(self) -> np.ndarray:
        """Each group's share of the weights for the next character (see `shares`)."""
        self._mix()
        return self.shares(self._w)

    @property
    def mean_weights(self) -> np.ndarray:
        """The shares of the weights averaged over every character scored so far."""
        return self.shares(self.weight_sum / self.scored) if self.scored else self.weights

    def shares(self, w: np.ndarray) -> np.ndarray:
        """A group's share: the positive weight on its rows over all the positive weight. (A
        geometric mixture's weights need not sum to 1, and a negative one sharpens, so this
        says how much each group is listened to, not a probability of being right.)"""
        pos = np.maximum(w, 0.0)
        spans = self._spans + ([self._text_span] if self.read_text else [])
        g = np.array([pos[lo:hi].sum() for lo, hi in spans])
        total = g.sum()
        return g / total if total > 0 else np.full(len(g), 1.0 / len(g))

    def update(self, i: int) -> None:
        """Learn from character id `i`, which has just been scored with the current weights."""
        if self._lookahead:
            return  # a guess being explored: neither learnt from nor counted
        self._mix()
        self.weight_sum += self._w
        self.scored += 1
        if not self.learn:
            return
        F, r = self.F, self._rows
        g = F[:, i] - F @ self._soft  # = -d(-log p(i)) / d w
        n = self.uses[r] + 1.0
        self.uses[r] = n
        v = self.ms[r]
        v += (g * g - v) / np.minimum(n, HORIZON)[:, None]
        self.ms[r] = v
        self.W[r] += self.rate * g / (np.sqrt(v) + 1e-3)

    # -- the prediction interface ----------------------------------------------------------------
    def reset(self) -> None:
        """A fresh context for every model; what was learnt is kept (see `reset_weights`)."""
        for m in self.models:
            m.reset()
        self._reset_text_context()

    def _reset_text_context(self) -> None:
        self.text.reset_context()
        self.match.reset_context()
        self._history = ""
        self._cached = False

    def reset_weights(self) -> None:
        """Forget what was learnt: the weights, and the models of the text read so far."""
        self.W[...] = self._W0
        self.ms[...] = 0.0
        self.uses[...] = 0.0
        self._new_text_models()
        self.weight_sum[...] = 0.0
        self.scored = 0
        self._history = ""
        self._cached = False

    def take_over(self, other: MixtureModel) -> bool:
        """Carry on from `other`, a mixture of the same shape that is then dropped (new network
        weights make a new mixture): its weights, and its models of the text with their context.
        False (nothing taken) when the shapes differ."""
        if other.W.shape != self.W.shape:
            return False
        self.W[...], self.ms[...], self.uses[...] = other.W, other.ms, other.uses
        self.text, self.match = other.text, other.match
        self.weight_sum[...], self.scored = other.weight_sum, other.scored
        self._history = other._history
        self.learn = other.learn
        self._cached = False
        return True

    def follow_text(self, text: str) -> None:
        """The shared models were fed `text` directly (a re-feed after an edit): the models of
        the text take it as their context without learning from it again."""
        self._reset_text_context()
        for i in self.vocab.encode(text).tolist():  # (bytes in byte mode)
            self._step_text(i, self.vocab.chars[i], learn=False)

    def feed(self, ch: str) -> bool:
        i = self.vocab.id(ch)
        if i is not None:
            self._feed(i, ch)  # (the text's models see the character itself)
            return True
        ids = self.vocab.symbols_of(ch)  # a multi-byte character's bytes, in turn
        for j in ids:
            self.feed_symbol(j)
        return bool(ids)

    def feed_symbol(self, i: int) -> None:
        self._feed(i, self.vocab.chars[i])

    def _feed(self, i: int, ch: str) -> None:
        self.update(i)
        for m in self.models:
            m.feed_symbol(i)
        self._step_text(i, ch, learn=self.learn and not self._lookahead)

    def _step_text(self, i: int, ch: str, learn: bool) -> None:
        if self.read_text:
            if learn:
                self.text.learn(i)
                self.match.learn(i)
            else:
                self.text.step(i)
                self.match.step(i)
        self._history = (self._history + ch)[-2:]
        self._cached = False

    def clone(self) -> MixtureModel:
        twin = self._twin([m.clone() for m in self.models])
        for name in ("W", "ms", "uses", "weight_sum"):
            setattr(twin, name, getattr(self, name).copy())
        twin.text, twin.match = self.text.copy(), self.match.copy()
        return twin

    def for_thread(self) -> MixtureModel:
        """A copy for a beam search on another thread: its own models and weights; the models of
        the text share what they learnt, which the thread only reads (see `online.py`)."""
        twin = self._twin([m.clone() for m in self.models])
        for name in ("W", "ms", "uses", "weight_sum"):
            setattr(twin, name, getattr(self, name).copy())
        twin.text, twin.match = self.text.follow(), self.match.follow()
        twin.learn = False
        return twin

    def lookahead(self) -> MixtureModel:
        twin = self._twin([m.lookahead() for m in self.models])
        twin._lookahead = True  # (so the weights, shared, are only read)
        twin.text, twin.match = self.text.follow(), self.match.follow()
        return twin

    def _twin(self, models: list[NextCharModel]) -> MixtureModel:
        twin = object.__new__(MixtureModel)
        twin.__dict__.update(self.__dict__)
        twin.models = models
        for name in ("F", "_z", "_p", "_soft", "_w", "_rows"):
            setattr(twin, name, getattr(self, name).copy())
        return twin


def _orders(model: NextCharModel) -> int:
    """How many orders of an n-gram (of order 2 or more) are inputs of their own; 0 for any
    other model (one input)."""
    return model.order if isinstance(model, NgramModel) and model.order > 1 else 0
