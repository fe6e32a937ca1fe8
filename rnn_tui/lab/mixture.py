"""The network and the n-gram mixed character by character, with weights that learn online.

    p(c) = sum_i w_i p_i(c),   w = softmax(theta[s])

Linear mixing keeps every distribution a proper one (it sums to 1 because each p_i does) and can
never be worse than the worst component by more than log(1/w_i). The weights adapt after every
character to how each model has just done: one step of gradient descent on the mixture's own log
loss, -log p(x), whose gradient for softmax weights is

    d(-log p(x)) / d theta_i = -w_i (p_i(x) / p(x) - 1)

so a model that gave the character more than the mixture did gains weight. As context-mixing
compressors do, there is a set of weights per small context `s`: here how confident each model
is (its largest probability, in CONFIDENCE_EDGES buckets), so the mixture learns e.g. to trust
the n-gram when it is sure and the network when the n-gram has never seen the context. The
character is scored (`probs`) before `feed` shows it to the weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnn_tui.engine.predict import NextCharModel

CONFIDENCE_EDGES = (0.3, 0.6, 0.9)  # largest-probability buckets that select a weight set
DEFAULT_RATE = 0.02  # learning rate of the weights (per character)


def confidence_bucket(p: np.ndarray) -> int:
    return int(np.searchsorted(CONFIDENCE_EDGES, float(p.max()), side="right"))


class MixtureModel(NextCharModel):
    """Linear mixture of next-character models over the same vocabulary (see the module docstring).

    `labels` name the components (for the weights shown in the app and reported by `eval`).
    `learn=False` freezes the weights (a look-ahead copy, or a fixed mixture).
    """

    def __init__(
        self,
        models: Sequence[NextCharModel],
        labels: Sequence[str] | None = None,
        rate: float = DEFAULT_RATE,
        learn: bool = True,
        prior: Sequence[float] | None = None,
        share: bool = False,
    ) -> None:
        if len(models) < 2:
            raise ValueError("a mixture needs at least two models")
        vocab = models[0].vocab
        for m in models[1:]:
            if m.vocab != vocab:
                raise ValueError("the models of a mixture must share a vocabulary")
        # Its own copies, since feeding them is the mixture's job; `share` keeps the caller's
        # (who then feeds them only through the mixture).
        self.models = list(models) if share else [m.clone() for m in models]
        self.labels = list(labels) if labels else [f"model {i}" for i in range(len(models))]
        self.vocab = vocab
        self.rate = rate
        self.learn = learn
        n, sets = len(models), (len(CONFIDENCE_EDGES) + 1) ** len(models)
        start = np.zeros(n) if prior is None else np.log(np.asarray(prior, np.float64))
        self.theta = np.tile(start, (sets, 1))  # one weight set per context
        self._start = self.theta.copy()
        self.weight_sum = np.zeros(n)  # for the mean weight over everything scored
        self.scored = 0
        self._cache: tuple | None = None
        self._lookahead = False

    # -- mixing ----------------------------------------------------------------------------------
    def _context(self, parts: list[np.ndarray]) -> int:
        s = 0
        for p in parts:
            s = s * (len(CONFIDENCE_EDGES) + 1) + confidence_bucket(p)
        return s

    def _mix(self) -> tuple[list[np.ndarray], int, np.ndarray, np.ndarray]:
        """(component distributions, weight set, weights, mixture), computed once per position."""
        if self._cache is None:
            parts = [m.probs for m in self.models]
            s = self._context(parts)
            w = _softmax(self.theta[s])
            mixed = w[0] * parts[0]
            for wi, p in zip(w[1:], parts[1:], strict=True):
                mixed = mixed + wi * p
            mixed /= mixed.sum()  # float64 rounding only: each part sums to 1
            self._cache = (parts, s, w, mixed)
        return self._cache

    @property
    def probs(self) -> np.ndarray:
        return self._mix()[3]

    @property
    def weights(self) -> np.ndarray:
        """The weight of each model for the next character."""
        return self._mix()[2].copy()

    @property
    def mean_weights(self) -> np.ndarray:
        """Each model's weight averaged over every character fed so far (or the current ones)."""
        return self.weight_sum / self.scored if self.scored else self.weights

    def update(self, i: int) -> None:
        """Learn from character id `i`, which has just been scored with the current weights."""
        if self._lookahead:
            return  # a guess being explored: neither learnt from nor counted
        parts, s, w, mixed = self._mix()
        self.weight_sum += w
        self.scored += 1
        if not self.learn:
            return
        q = np.array([p[i] for p in parts])
        grad = w * (q / max(float(mixed[i]), 1e-300) - 1.0)  # = -d(-log p(i)) / d theta
        self.theta[s] += self.rate * grad

    # -- the prediction interface ----------------------------------------------------------------
    def reset(self) -> None:
        """A fresh context for every model; the learnt weights are kept (see `reset_weights`)."""
        for m in self.models:
            m.reset()
        self._cache = None

    def reset_weights(self) -> None:
        self.theta[...] = self._start
        self.weight_sum[...] = 0.0
        self.scored = 0
        self._cache = None

    def feed(self, ch: str) -> bool:
        i = self.vocab.id(ch)
        if i is None:
            return False
        self.update(i)
        for m in self.models:
            m.feed(ch)
        self._cache = None
        return True

    def clone(self) -> MixtureModel:
        twin = object.__new__(MixtureModel)
        twin.__dict__.update(self.__dict__)
        twin.models = [m.clone() for m in self.models]
        twin.theta = self.theta.copy()
        twin.weight_sum = self.weight_sum.copy()
        return twin

    def lookahead(self) -> MixtureModel:
        twin = object.__new__(MixtureModel)
        twin.__dict__.update(self.__dict__)
        twin.models = [m.lookahead() for m in self.models]
        twin._lookahead = True
        twin.theta = self.theta  # only read by a look-ahead
        return twin


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()
