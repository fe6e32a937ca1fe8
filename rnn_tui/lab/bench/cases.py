"""What a training benchmark times: our engine's step exactly as the Trainer takes it, the same model
in PyTorch, and the model FLOPs of one character."""

from __future__ import annotations

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FLOPS_FORMULA = (
    "FLOPs/char = 6*H*(G*H + V): 2 FLOPs a multiply-add, forward (x1) + backward (x2: the input and "
    "weight gradients) for the recurrent (H x G*H) and output (H x V) matmuls; G = 1 rnn, 4 lstm, "
    "3 gru; one-hot input is a row lookup; elementwise work is not counted"
)


def flops_per_char(cell: str, hidden: int, vocab: int) -> int:
    """Model FLOPs of one training character (see FLOPS_FORMULA)."""
    return 6 * hidden * (GATES[cell] * hidden + vocab)


class OursCase:
    """Our engine exactly as the Trainer drives it: loss_and_grads, global norm, clip, Adam.

    With `workers` > 1 the step's loss and gradients come from `DataParallel` over that many
    replica processes, as `Trainer(workers=N)` takes them; `close()` stops the replicas.
    """

    def __init__(
        self, cell: str, hidden: int, batch: int, seq_len: int, vocab: int, workers: int = 1
    ) -> None:
        import numpy as np

        from rnn_tui.engine.config import ModelConfig
        from rnn_tui.engine.model import CharModel
        from rnn_tui.engine.optim import clip_global_norm_, global_norm, make_optimizer
        from rnn_tui.engine.parallel import DataParallel

        self.model = CharModel(ModelConfig(vocab_size=vocab, cell=cell, hidden=hidden), seed=0)
        self.opt = make_optimizer("adam", self.model.params, 2e-3)
        ids = np.random.default_rng(0).integers(0, vocab, (seq_len + 1, batch)).astype(np.int32)
        self.inputs, self.targets = ids[:-1], ids[1:]
        self.state = self.model.zero_state(batch)
        self._norm, self._clip = global_norm, clip_global_norm_
        # As the Trainer: one worker computes in this process, more through the replicas (the
        # DataParallel takes over the model's parameters, which the optimizer updates in place).
        workers = max(1, min(workers, batch))
        self.parallel = DataParallel(self.model, batch, seq_len, workers) if workers > 1 else None
        self.loss_and_grads = (self.parallel or self.model).loss_and_grads
        self.workers = self.parallel.workers if self.parallel else 1

    def step(self) -> float:
        m = self.model
        loss, self.state = self.loss_and_grads(self.inputs, self.targets, self.state)
        self._clip(m.grads, 5.0, self._norm(m.grads))
        self.opt.step(m.grads)
        return loss

    @property
    def sync_seconds(self) -> float:
        """Time spent so far waiting for the replicas and summing their gradients (0: one worker)."""
        return self.parallel.sync_seconds if self.parallel else 0.0

    def close(self) -> None:
        if self.parallel:
            self.parallel.close()


class TorchCase:
    """The same model in PyTorch: nn.RNN/LSTM/GRU on one-hot input + Linear + cross-entropy + Adam + clip."""

    sync_seconds = 0.0  # (its threads meet inside PyTorch's own calls: nothing to count here)

    def __init__(self, cell: str, hidden: int, batch: int, seq_len: int, vocab: int) -> None:
        import torch

        torch.manual_seed(0)
        kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.torch, self.cell = torch, cell
        self.rnn = kind(vocab, hidden)
        self.out = torch.nn.Linear(hidden, vocab)
        self.params = list(self.rnn.parameters()) + list(self.out.parameters())
        self.opt = torch.optim.Adam(self.params, lr=2e-3)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, vocab, (seq_len + 1, batch), generator=g)
        # The one-hot input is built once (in our engine it is a row lookup, free either way).
        self.x = torch.nn.functional.one_hot(ids[:-1], vocab).float()
        self.y = ids[1:].reshape(-1)
        h = torch.zeros(1, batch, hidden)
        self.state = (h, h.clone()) if cell == "lstm" else h
        self.hidden = hidden

    def step(self) -> None:
        torch = self.torch
        out, state = self.rnn(self.x, self.state)
        loss = torch.nn.functional.cross_entropy(self.out(out.reshape(-1, self.hidden)), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()
        self.state = tuple(s.detach() for s in state) if self.cell == "lstm" else state.detach()

    def close(self) -> None:
        pass
