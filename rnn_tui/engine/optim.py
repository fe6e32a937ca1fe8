"""Optimizers over the shared params/grads dicts, and global-norm gradient clipping.

Clipping lives here, outside the backward pass, so a gradient check always sees raw gradients.
Every update is in place with preallocated state: nothing is allocated per step.
"""

from __future__ import annotations

import math

import numpy as np

from rnn_tui.engine.errors import ConfigError


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient element (float64 accumulation)."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def clip_global_norm_(grads: dict[str, np.ndarray], max_norm: float, norm: float) -> float:
    """Scale all gradients by max_norm / norm when norm exceeds max_norm; return the scale."""
    if max_norm <= 0 or norm <= max_norm:
        return 1.0
    scale = max_norm / (norm + 1e-12)
    for g in grads.values():
        g *= scale
    return scale


class Optimizer:
    """Base: `lr` may change between steps; `state` holds arrays named '<slot>.<param>'."""

    slots: tuple[str, ...] = ()

    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.params = params
        self.lr = lr
        self.t = 0
        self.state = {
            f"{slot}.{name}": np.zeros_like(p) for slot in self.slots for name, p in params.items()
        }
        self._tmp = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in self.params.items():
            self.update(name, p, grads[name], self._tmp[name])

    def update(self, name, p, g, tmp) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        d = {k: v.copy() for k, v in self.state.items()}
        d["t"] = np.array(self.t, dtype=np.int64)
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        for k, v in self.state.items():
            if k not in d:
                raise ConfigError(f"optimizer state lacks '{k}'")
            v[...] = d[k]
        self.t = int(d.get("t", 0))


class SGD(Optimizer):
    def update(self, name, p, g, tmp):
        np.multiply(g, self.lr, out=tmp)
        p -= tmp


class Momentum(Optimizer):
    """Heavy ball: v = mu v + g; p -= lr v."""

    slots = ("v",)
    mu = 0.9

    def update(self, name, p, g, tmp):
        v = self.state["v." + name]
        v *= self.mu
        v += g
        np.multiply(v, self.lr, out=tmp)
        p -= tmp


class Adagrad(Optimizer):
    """s += g^2; p -= lr g / (sqrt(s) + eps)."""

    slots = ("s",)
    eps = 1e-8

    def update(self, name, p, g, tmp):
        s = self.state["s." + name]
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


class Adam(Optimizer):
    """Adam with bias correction folded into the step size (Kingma & Ba, section 2)."""

    slots = ("m", "v")
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def step(self, grads):
        self.t += 1
        self._alpha = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for name, p in self.params.items():
            self.update(name, p, grads[name], self._tmp[name])

    def update(self, name, p, g, tmp):
        m, v = self.state["m." + name], self.state["v." + name]
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self._alpha
        p -= tmp


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": Adagrad, "adam": Adam}


def budget_lr_scale(done: float, decay: float) -> float:
    """The learning-rate factor at fraction `done` of a run with a budget (steps or seconds).

    Constant, then a straight line to 0 over the last `decay` of the budget (0: constant
    throughout). Annealing at the end of a short run is worth about 0.1 bit per character.
    """
    if decay <= 0.0:
        return 1.0
    return min(1.0, max(0.0, (1.0 - done) / decay))


def make_optimizer(name: str, params: dict[str, np.ndarray], lr: float) -> Optimizer:
    return OPTIMIZERS[name](params, lr)
