"""Integer ids into BPTT chunks: the training minibatches and the validation walk."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnn_tui.engine.errors import CorpusError


class BatchStream:
    """Truncated-BPTT minibatches: `batch` streams read the ids cyclically, `seq_len` a chunk.

    With M = len(ids) - 1 transitions (ids[p], ids[p + 1]), stream b starts at transition
    b * M // batch; each `next()` returns the following `seq_len` transitions of every stream,
    so consecutive chunks are contiguous and the hidden state can be carried across them.
    Works for any M >= 1, even when M < batch or M < seq_len (positions wrap around).
    """

    def __init__(self, ids: np.ndarray, batch: int, seq_len: int) -> None:
        ids = np.asarray(ids)  # any integer dtype, memory-mapped or not: chunks are cast to int32
        if ids.ndim != 1 or len(ids) < 2:
            raise CorpusError("training needs at least 2 characters (one transition)")
        if batch < 1 or seq_len < 1:
            raise ValueError(f"batch and seq_len must be >= 1 (got {batch}, {seq_len})")
        self.batch, self.seq_len = batch, seq_len
        self.transitions = len(ids) - 1
        self._src, self._dst = ids[:-1], ids[1:]
        self._starts = np.arange(batch, dtype=np.int64) * self.transitions // batch
        self._pos = np.empty((seq_len, batch), dtype=np.int64)  # transition index per (t, b)
        self.seek(0)

    def seek(self, chunk: int) -> None:
        """Go to where the stream is after `chunk` calls to next() (e.g. the step of a resume)."""
        first = (self._starts + chunk * self.seq_len) % self.transitions
        np.remainder(
            first[None, :] + np.arange(self.seq_len)[:, None], self.transitions, out=self._pos
        )
        self.chunks = chunk  # how many chunks have been handed out

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """inputs, targets: new int32 arrays of shape (seq_len, batch); targets[t] = inputs[t + 1]."""
        inputs = self._src.take(self._pos).astype(np.int32, copy=False)
        targets = self._dst.take(self._pos).astype(np.int32, copy=False)
        self._pos += self.seq_len
        np.remainder(self._pos, self.transitions, out=self._pos)
        self.chunks += 1
        return inputs, targets


def eval_chunks(
    ids: np.ndarray, batch: int, seq_len: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks (T', B') that visit each transition of the ids once, B' contiguous streams in order.

    The M = len(ids) - 1 transitions are cut into B' = min(batch, M) streams of M // B' each;
    the last M % B' transitions (at most batch - 1) are dropped so the streams have equal length.
    Carry the hidden state from one chunk to the next; the last chunk may be shorter than seq_len.
    Nothing is yielded when there are fewer than 2 ids.
    """
    ids = np.asarray(ids)  # cast per chunk: a memory-mapped split is never copied whole
    m = len(ids) - 1
    if m < 1:
        return
    b = min(batch, m)
    length = m // b
    inputs = ids[: b * length].reshape(b, length).T
    targets = ids[1 : b * length + 1].reshape(b, length).T
    for s in range(0, length, seq_len):
        yield (
            np.ascontiguousarray(inputs[s : s + seq_len], dtype=np.int32),
            np.ascontiguousarray(targets[s : s + seq_len], dtype=np.int32),
        )
