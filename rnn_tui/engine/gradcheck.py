"""Check the hand-written BPTT against central finite differences in float64, tensor by tensor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.config import CELLS, ModelConfig

TOLERANCE = 1e-6
EPS = 1e-5


def relative_error(g: np.ndarray, g_num: np.ndarray) -> float:
    """||g - g_num|| / (||g|| + ||g_num||), 0 when both vanish."""
    denom = np.linalg.norm(g) + np.linalg.norm(g_num)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - g_num) / denom)


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central differences of f() with respect to every element of x (perturbed in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


@dataclass(frozen=True)
class GradCheckResult:
    case: str
    errors: dict[str, float]  # tensor name ("state0[l]" for the initial state) -> relative error

    @property
    def worst(self) -> float:
        return max(self.errors.values())

    @property
    def ok(self) -> bool:
        return self.worst < TOLERANCE


def check_gradients(model, inputs, targets, rng: np.random.Generator) -> dict[str, float]:
    """Relative error of every parameter's gradient and of the initial state's, for any model with
    `params`, `grads`, `dstate0`, `zero_state`, `loss` and `loss_and_grads` (char or series)."""
    for v in model.params.values():  # move off the init (zero output bias, forget bias 1)
        v += rng.uniform(-0.3, 0.3, size=v.shape)
    state0 = [rng.uniform(-0.5, 0.5, size=s.shape) for s in model.zero_state(inputs.shape[1])]

    model.loss_and_grads(inputs, targets, state0)
    analytic = {k: v.copy() for k, v in model.grads.items()}
    analytic.update({f"state0[{l}]": d.copy() for l, d in enumerate(model.dstate0)})

    def f() -> float:
        return model.loss(inputs, targets, state0)[0]

    tensors = {**model.params, **{f"state0[{l}]": s for l, s in enumerate(state0)}}
    return {
        name: relative_error(analytic[name], numeric_gradient(f, v)) for name, v in tensors.items()
    }


def check_model(config: ModelConfig, T: int = 5, B: int = 3, seed: int = 0) -> dict[str, float]:
    """The character model's gradient check on random ids (see `check_gradients`)."""
    from rnn_tui.engine.model import (
        CharModel,  # local: keeps `import rnn_tui.engine.gradcheck` light
    )

    rng = np.random.default_rng(seed)
    model = CharModel(config, seed=seed, dtype=np.float64)
    inputs = rng.integers(0, config.vocab_size, size=(T, B))
    targets = rng.integers(0, config.vocab_size, size=(T, B))
    return check_gradients(model, inputs, targets, rng)


def standard_cases() -> Iterator[tuple[str, ModelConfig]]:
    """Every cell type, one-hot and embedding input, 1 and 2 layers, on tiny shapes."""
    for cell in CELLS:
        for embed in (0, 3):
            for layers in (1, 2):
                config = ModelConfig(vocab_size=5, cell=cell, hidden=4, layers=layers, embed=embed)
                yield f"{cell} {'embed' if embed else 'one-hot'} {layers} layer(s)", config


def run_all(seed: int = 0) -> list[GradCheckResult]:
    return [GradCheckResult(case, check_model(cfg, seed=seed)) for case, cfg in standard_cases()]
