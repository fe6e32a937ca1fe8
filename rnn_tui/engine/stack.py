"""A stack of recurrent layers over a chunk: the part of every model here between its input and its
head (the character model's softmax, the regression lessons' linear output).

    P_0[t] = the head's input projection of x_t  (a row lookup, or x_t @ Wx + bx)
    h^l_t  = cell(P_l[t], h^l_{t-1})            (cells.RECURRENCES, one per layer)
    P_l[t] = h^{l-1}_t @ Wx_l + bx_l             (l >= 1: the layer below is the input)

The head owns layer 0's input weight (`Wxh`/`Wx`), because only it knows what x_t is: it writes
P_0 into `buffers(T, B).P[0]` with the weights `input_params(0, params)` hands it (the sigmoid
columns halved, see recurrence.py), and after `backward` turns dL/dP_0 into its own gradients. The stack
does everything else, bias gradients of layer 0 included. Parameter names are the checkpoint's:
`Wxh`, `Whh`, `bh` (rnn), `Wx`, `Wh`, `b` (lstm), `Wx`, `Wh`, `bx`, `bh` (gru), `_l` for l >= 1.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from rnn_tui.engine.cells import RECURRENCES
from rnn_tui.engine.config import GATES
from rnn_tui.engine.recurrence import param_names


def layer_suffix(layer: int) -> str:
    return f"_{layer}" if layer else ""


def layer_shapes(cell: str, hidden: int, layers: int, inputs: int) -> dict[str, tuple[int, ...]]:
    """Every layer's parameters and shapes, in checkpoint order; layer 0 reads `inputs` numbers."""
    G = GATES[cell] * hidden
    shapes: dict[str, tuple[int, ...]] = {}
    d_in = inputs
    for layer in range(layers):
        Wx, bx, Wh, bh = param_names(cell, layer_suffix(layer))
        shapes[Wx] = (d_in, G)
        shapes[Wh] = (hidden, G)
        shapes[bx] = (G,)
        if bh:
            shapes[bh] = (G,)
        d_in = hidden
    return shapes


class StackConfig(Protocol):
    """What `init_params` reads of a model's configuration (ModelConfig, SeriesConfig)."""

    @property
    def cell(self) -> str: ...
    @property
    def hidden(self) -> int: ...
    @property
    def layers(self) -> int: ...
    def param_shapes(self) -> dict[str, tuple[int, ...]]: ...


def init_params(config: StackConfig, rng: np.random.Generator, dtype=np.float32) -> dict:
    """PyTorch-style U(-1/sqrt(H), 1/sqrt(H)) weights, zero output bias, LSTM forget bias 1; an
    embedding `E` standard normal. One rule for every head."""
    k = 1.0 / math.sqrt(config.hidden)
    params = {}
    for name, shape in config.param_shapes().items():
        if name == "E":
            value = rng.standard_normal(shape)
        elif name == "by":
            value = np.zeros(shape)
        else:
            value = rng.uniform(-k, k, size=shape)
        params[name] = value.astype(dtype)
    if config.cell == "lstm":
        H = config.hidden
        for layer in range(config.layers):
            params["b" + layer_suffix(layer)][H : 2 * H] = 1.0
    return params


class StackBuffers:
    """The stack's arrays for one (T, B) chunk shape, reused step after step."""

    def __init__(self, layers: int, G: int, H: int, T: int, B: int, dtype) -> None:
        self.P = [np.zeros((T, B, G), dtype) for _ in range(layers)]  # input projections
        self.dH = [
            np.zeros((T, B, H), dtype) for _ in range(layers)
        ]  # dL/dh of each layer's output


class RecurrentStack:
    """`layers` recurrences of one cell, each reading the hidden states of the one below."""

    SHAPES_KEPT = 3  # training chunks, validation chunks, their short tail

    def __init__(self, cell: str, hidden: int, layers: int, dtype=np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self.hidden = hidden
        self.layers = [RECURRENCES[cell](hidden, self.dtype) for _ in range(layers)]
        self.names = [param_names(cell, layer_suffix(l)) for l in range(layers)]
        self._G = GATES[cell] * hidden
        self._bufs: dict[tuple[int, int], StackBuffers] = {}

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros(layer.state_shape(batch), self.dtype) for layer in self.layers]

    def final_state(self) -> list[np.ndarray]:
        """Each layer's state after the last step (copies): the next chunk's initial state."""
        return [layer.final_state() for layer in self.layers]

    def hidden_states(self, layer: int) -> np.ndarray:
        """h_1..h_T of one layer from the last forward pass, (T, B, H) (a view: read it at once)."""
        return self.layers[layer].hs[1:]

    def buffers(self, T: int, B: int) -> StackBuffers:
        bufs = self._bufs.get((T, B))
        if bufs is None:
            if len(self._bufs) >= self.SHAPES_KEPT:
                self._bufs.pop(next(iter(self._bufs)))
            bufs = self._bufs[(T, B)] = StackBuffers(
                len(self.layers), self._G, self.hidden, T, B, self.dtype
            )
        return bufs

    def input_params(self, layer: int, params) -> tuple[np.ndarray, np.ndarray]:
        """(Wx', b') of a layer, as its recurrence takes P (see recurrence.Recurrence.input_params)."""
        Wx, bx, _, bh = self.names[layer]
        return self.layers[layer].input_params(params[Wx], params[bx], params[bh] if bh else None)

    def forward(self, params, bufs: StackBuffers, state, for_backward: bool = False) -> np.ndarray:
        """Run every layer over the chunk whose P_0 the head has written into `bufs.P[0]`; return
        the top layer's h_1..h_T, (T, B, H). `for_backward`: a backward pass follows."""
        T, B, _ = bufs.P[0].shape
        N = T * B
        h: np.ndarray | None = None  # the layer below's output (layer 0's input is in P[0] already)
        for l, layer in enumerate(self.layers):
            _, _, Wh, bh = self.names[l]
            P = bufs.P[l]
            if h is not None:
                Wx_in, b_in = self.input_params(l, params)
                P2 = P.reshape(N, -1)
                np.matmul(h.reshape(N, -1), Wx_in, out=P2)
                P2 += b_in
            h = layer.forward(
                P, state[l], params[Wh], params[bh] if bh else None, True, for_backward
            )
        assert h is not None  # a stack has at least one layer
        return h

    def backward(self, params, grads, bufs: StackBuffers) -> tuple[np.ndarray, list[np.ndarray]]:
        """BPTT from dL/dh of the top layer (in `bufs.dH[-1]`, written by the head): fills every
        gradient but layer 0's input weight; returns dL/dP_0 as (T*B, G) and dL/dstate0."""
        T, B, _ = bufs.P[0].shape
        N = T * B
        dH = bufs.dH[-1]
        dstate0: list[np.ndarray] = []  # top layer first, reversed at the end
        dP2: np.ndarray | None = None
        for l in reversed(range(len(self.layers))):
            Wx, bx, Wh, bh = self.names[l]
            dP, dstate = self.layers[l].backward(
                dH, params[Wh], grads[Wh], grads[bh] if bh else None
            )
            dstate0.append(dstate)
            dP2 = dP.reshape(N, -1)
            np.sum(dP2, axis=0, out=grads[bx])
            if l > 0:
                below = self.hidden_states(l - 1).reshape(N, -1)
                np.matmul(below.T, dP2, out=grads[Wx])
                dH = bufs.dH[l - 1]
                np.matmul(dP2, params[Wx].T, out=dH.reshape(N, -1))
        assert dP2 is not None  # a stack has at least one layer
        return dP2, dstate0[::-1]
