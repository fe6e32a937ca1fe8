"""The time loop's products cut into column blocks where OpenBLAS has a small-product kernel:
when the cut applies, and that it changes nothing but the speed."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.engine import blas
from rnn_tui.engine.cells import RECURRENCES


@pytest.fixture
def skylakex(monkeypatch):
    monkeypatch.setattr(blas, "openblas_core", lambda: "skylakex")
    monkeypatch.delenv(blas.ENV, raising=False)


def test_blocks_are_the_fewest_small_products_in_whole_registers_and_even(skylakex):
    shapes = [(16, 256, 1024), (32, 256, 768), (16, 1024, 256), (12, 192, 576), (16, 256, 256)]
    shapes += [(32, 256, 256), (16, 512, 512), (24, 192, 272)]
    for rows, inner, columns in shapes:
        block = blas.column_block(rows, inner, columns, np.float32)
        assert block is not None and block % blas.BLOCK_ALIGN == 0
        assert rows * inner * block <= blas.SMALL_PRODUCT
        widest = blas.SMALL_PRODUCT // (rows * inner) // blas.BLOCK_ALIGN * blas.BLOCK_ALIGN
        count = -(-columns // block)
        assert count == -(-columns // widest)  # no more calls than the widest blocks make
        # and the narrowest block that many calls allow: no thin last block
        assert -(-columns // (block - blas.BLOCK_ALIGN)) > count
    assert blas.column_block(16, 256, 1024, np.float32) == 208  # LSTM 256 on half a batch: 5 calls
    assert blas.column_block(16, 256, 256, np.float32) == 128  # a GRU 256 gate on half a batch


def test_products_stay_whole_where_the_cut_would_only_add_calls(skylakex, monkeypatch):
    assert blas.column_block(8, 192, 576, np.float32) is None  # small enough already
    assert blas.column_block(16, 256, 1024, np.float64) is None  # (a kernel for float32 only)
    assert blas.column_block(256, 256, 1024, np.float32) is None  # 1 column a block at most
    assert blas.column_block(64, 1024, 256, np.float32) is None  # more than MAX_BLOCKS calls
    monkeypatch.setenv(blas.ENV, "0")
    assert blas.column_block(16, 256, 1024, np.float32) is None
    for core in ("haswell", "zen", None):  # no such kernel: whole
        monkeypatch.setattr(blas, "openblas_core", lambda core=core: core)
        monkeypatch.delenv(blas.ENV, raising=False)
        assert blas.column_block(16, 256, 1024, np.float32) is None


def test_the_core_is_read_from_the_loaded_blas():
    core = blas.openblas_core()
    assert core is None or (core.isascii() and core == core.lower() and core)


@pytest.mark.parametrize("cell", sorted(RECURRENCES))
def test_a_cut_chunk_computes_what_a_whole_one_does(skylakex, monkeypatch, cell):
    """Forward states, backward gradients and dWh of a chunk at B 16, H 256 (where every cell's
    products are cut) against the same chunk with the products whole."""
    H, T, B = 256, 12, 16
    rng = np.random.default_rng(7)
    G = RECURRENCES[cell](H, np.float32).G
    Wh = (rng.standard_normal((H, G)) * 0.05).astype(np.float32)
    bh = (rng.standard_normal(G) * 0.1).astype(np.float32) if cell == "gru" else None
    P = rng.standard_normal((T, B, G)).astype(np.float32)
    dhs = rng.standard_normal((T, B, H)).astype(np.float32)
    state0 = (rng.standard_normal(RECURRENCES[cell](H, np.float32).state_shape(B)) * 0.3).astype(
        np.float32
    )

    def run():
        rec = RECURRENCES[cell](H, np.float32)
        hs = rec.forward(P.copy(), state0, Wh, bh, for_backward=True).copy()
        dWh, dbh = np.zeros_like(Wh), np.zeros(G, np.float32)
        dP, dstate = rec.backward(dhs, Wh, dWh, dbh)
        return hs, dP.copy(), dstate.copy(), dWh

    assert blas.column_blocks(Wh, B) and blas.column_blocks(Wh.T, B)  # forward's and backward's
    cut = run()
    monkeypatch.setenv(blas.ENV, "0")
    whole = run()
    for a, b in zip(cut, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_product_by_blocks_is_the_product():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((64, 100)).astype(np.float32)
    a = rng.standard_normal((5, 64)).astype(np.float32)
    blocks = [(W[:, j : j + 32], slice(j, j + 32)) for j in range(0, 100, 32)]
    out, whole = np.empty((5, 100), np.float32), np.empty((5, 100), np.float32)
    blas.product(a, W, blocks, out)
    blas.product(a, W, None, whole)
    np.testing.assert_allclose(out, a @ W, rtol=1e-5)
    np.testing.assert_allclose(whole, a @ W, rtol=1e-5)
