"""Dynamic evaluation (Krause et al. 2018): the network keeps learning from the text it reads.

After every segment of `segment` characters the weights take one gradient step on that segment
(BPTT over it with the model's own backward, from the state the segment started in), so recurring
names, words and style of *this* text become more likely. The update stays near the trained
weights theta_0:

    v      <- beta v + (1 - beta) g^2                        (running mean square, bias-corrected)
    theta  <- theta - lr g / (sqrt(v_hat) + eps) + decay (theta_0 - theta)

A character is always scored with the weights from before the step that learns from it: the
step only happens once every character of its segment has been scored and fed.

Weights are replaced, never changed in place (one new set a segment), so a `clone()` for a
look-ahead (greedy completion, beam search) shares them for free and cannot disturb the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from rnn_tui.engine.model import CharModel, ParamSnapshot
from rnn_tui.engine.predict import NextCharModel, Predictor


@dataclass(frozen=True)
class DynamicConfig:
    segment: int = 16  # characters per gradient step
    lr: float = 3e-3  # step size of the RMS-normalised update (about the change per weight a step)
    decay: float = 0.01  # pull back towards the trained weights per step
    # running mean square of the gradients: 0.99 gave 1-3 points more saved than 0.9 on every
    # far text tried (three networks, four texts) and the same on a network's own kind of text
    beta: float = 0.99
    eps: float = 1e-6


class DynamicPredictor(NextCharModel):
    """A `Predictor` whose weights follow the text it is fed (see the module docstring)."""

    def __init__(
        self, snapshot: ParamSnapshot, config: DynamicConfig | None = None, adapt: bool = True
    ) -> None:
        self.config = config or DynamicConfig()
        self.trained = snapshot
        self.vocab = snapshot.vocab
        self.adapt = adapt
        self._net = CharModel(
            snapshot.config, params=snapshot.params
        )  # a workspace, shared by clones
        self.reset_weights()

    # -- weights -------------------------------------------------------------------------------
    def reset_weights(self) -> None:
        """Back to the trained weights, forgetting what was learnt; the context is kept."""
        old = getattr(self, "predictor", None)
        self.snapshot = self.trained
        self._ms: dict[str, np.ndarray] | None = None
        self.steps = 0
        self.predictor = Predictor(self.trained)
        if old is not None:
            self._carry_state(old)
        else:
            self.reset()

    def _carry_state(self, old: Predictor) -> None:
        for mine, theirs in zip(self.predictor.state, old.state, strict=True):
            mine[...] = theirs
        self.predictor._h[...] = old._h
        self.predictor.fed = old.fed

    def rebase(self, trained: ParamSnapshot) -> bool:
        """New trained weights (training went on): what was learnt from the text, as a change
        from the old trained weights, is re-applied on top of them. False (nothing done) when
        the new weights have another shape: then start a new DynamicPredictor."""
        old = self.trained
        if trained.config != old.config or trained.vocab != self.vocab:
            return False
        new = {}
        for name, w in self.snapshot.params.items():
            moved = trained.params[name] + (w - old.params[name])
            moved.flags.writeable = False
            new[name] = moved
        self.trained = trained
        self.snapshot = ParamSnapshot(
            trained.config, self.vocab, MappingProxyType(new), trained.step
        )
        previous = self.predictor
        self.predictor = Predictor(self.snapshot)
        self._carry_state(previous)
        return True

    @property
    def params(self):
        return self.snapshot.params

    def drift(self) -> float:
        """RMS distance of the adapted weights from the trained ones (0 before any step)."""
        total, count = 0.0, 0
        for name, w in self.snapshot.params.items():
            d = w - self.trained.params[name]
            total += float(np.dot(d.ravel(), d.ravel()))
            count += d.size
        return (total / max(count, 1)) ** 0.5

    # -- the prediction interface --------------------------------------------------------------
    def reset(self) -> None:
        self.predictor.reset()
        self._segment: list[int] = []  # ids fed since the segment's start state
        self._start_state = [s.copy() for s in self.predictor.state]
        self._before_last: list[np.ndarray] | None = None

    def set_context(self, text: str) -> None:
        """Start again from `text` as context, without learning from it (after an edit)."""
        self.reset()
        adapt, self.adapt = self.adapt, False
        self.feed_text(text)
        self.adapt = adapt
        self._start_state = [s.copy() for s in self.predictor.state]

    def feed(self, ch: str) -> bool:
        ids = self.vocab.symbols_of(ch)  # (a multi-byte character's bytes, in turn)
        for i in ids:
            self.feed_id(i)
        return bool(ids)

    def feed_symbol(self, i: int) -> None:
        self.feed_id(i)

    def feed_id(self, i: int) -> None:
        if self.adapt:
            self._before_last = [s.copy() for s in self.predictor.state]
        self.predictor.feed_id(i)
        if not self.adapt:
            return
        self._segment.append(i)
        # The first id of a segment is its input only; it holds segment + 1 ids when full.
        if len(self._segment) > self.config.segment:
            self._step()

    def _step(self) -> None:
        """One gradient step on the segment just read, then a new segment from its last char."""
        ids = np.asarray(self._segment, np.int32)
        self._learn(ids[:-1, None], ids[1:, None], self._start_state)
        assert self._before_last is not None  # feed_id keeps it before every step
        self._restart(self._before_last, int(ids[-1]))

    def _restart(self, state: list[np.ndarray], last: int) -> None:
        """After a step: the segment's last character read again, with the new weights, from the
        state before it; the next segment (and its gradient) starts from there too."""
        fed = self.predictor.fed
        self.predictor = Predictor(self.snapshot)
        for mine, theirs in zip(self.predictor.state, state, strict=True):
            mine[...] = theirs
        self.predictor.feed_id(last)
        self.predictor.fed = fed
        self._segment = [last]
        self._start_state = [s.copy() for s in state]

    def _learn(self, inputs: np.ndarray, targets: np.ndarray, state: list[np.ndarray]) -> list:
        """Gradients on (inputs, targets) from `state`, then the update; returns the final state
        under the weights from before the update (what scoring the segment used)."""
        net = self._net
        net.params = dict(self.snapshot.params)
        _, final = net._forward(inputs, targets, [s.copy() for s in state], for_backward=True)
        # The forward pass leaves each step's next-character distribution in the workspace;
        # backward overwrites it, so it is kept first (what scoring the segment used).
        self.segment_probs = net._ws[inputs.shape].logits.astype(np.float64)
        net._backward()
        cfg = self.config
        if self._ms is None:
            self._ms = {k: np.zeros_like(v) for k, v in self.snapshot.params.items()}
            self._tmp = {k: np.empty_like(v) for k, v in self.snapshot.params.items()}
        self.steps += 1
        root_correction = np.float32((1.0 - cfg.beta**self.steps) ** -0.5)
        new = {}
        for name, w in self.snapshot.params.items():
            g, v, tmp = net.grads[name], self._ms[name], self._tmp[name]
            np.multiply(g, g, out=tmp)
            v *= cfg.beta
            tmp *= 1.0 - cfg.beta
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= root_correction
            tmp += cfg.eps
            np.divide(g, tmp, out=tmp)  # the RMS-normalised gradient
            fresh = np.multiply(w, 1.0 - cfg.decay)  # the new weights: a new array (see above)
            tmp *= -cfg.lr
            fresh += tmp
            np.multiply(self.trained.params[name], cfg.decay, out=tmp)
            fresh += tmp
            fresh.flags.writeable = False
            new[name] = fresh
        self.snapshot = ParamSnapshot(
            self.trained.config, self.vocab, MappingProxyType(new), self.trained.step
        )
        return final

    def feed_scored(self, text: str) -> np.ndarray:
        """Read a whole text a segment at a time (no per-character steps): for each known
        character, the distribution given just before it, plus the one after the last, as
        `Predictor.feed_scored`; the same scores and updates as feeding it char by char."""
        ids = self.vocab.encode(text)
        out = [self.probs[None, :].copy()]
        pos = 0
        while pos < len(ids):
            room = self.config.segment + 1 - len(self._segment) if self.adapt else len(ids) - pos
            take = ids[pos : pos + room]
            if not self.adapt or len(self._segment) + len(take) <= self.config.segment:
                out.append(self.predictor.feed_scored(self.vocab.decode(take))[1:])
                if self.adapt:
                    self._segment.extend(int(i) for i in take)
                pos += len(take)
                continue
            # This piece completes a segment: score it with a chunk forward pass (which is also
            # the gradient's forward pass), then step.
            seg = np.asarray(self._segment + [int(i) for i in take], np.int32)
            out.append(self._score_and_learn(seg))
            pos += len(take)
        return np.concatenate(out)

    def _score_and_learn(self, seg: np.ndarray) -> np.ndarray:
        """For each new character of a full segment (those not yet in `_segment`), the
        distribution after it; the step happens on the way, as in `_step`."""
        n_new = len(seg) - len(self._segment)
        final = self._learn(seg[:-1, None], seg[1:, None], self._start_state)
        # After the forward pass the workspace holds row r = the distribution after seg[r].
        probs = self.segment_probs[len(seg) - n_new :]
        probs /= probs.sum(axis=1, keepdims=True)
        self.predictor.fed += n_new - 1
        self._restart(final, int(seg[-1]))
        self.predictor.fed += 1
        return np.concatenate([probs, self.predictor.probs[None, :]])

    @property
    def probs(self) -> np.ndarray:
        return self.predictor.probs

    @property
    def hidden(self) -> np.ndarray:
        return self.predictor.hidden

    def clone(self) -> DynamicPredictor:
        """A copy that goes on independently; weights are shared until either takes a step."""
        twin = object.__new__(DynamicPredictor)
        twin.__dict__.update(self.__dict__)
        twin.predictor = self.predictor.clone()
        twin._segment = list(self._segment)
        twin._start_state = [s.copy() for s in self._start_state]
        if self._ms is not None:  # updated in place by each copy's own steps
            twin._ms = {k: v.copy() for k, v in self._ms.items()}
        return twin

    def lookahead(self) -> Predictor:
        """The network with the current weights and context, which learns nothing more."""
        return self.predictor.lookahead()
