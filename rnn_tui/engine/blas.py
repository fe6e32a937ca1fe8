"""The BLAS under NumPy, and how the time loop's products are cut for it.

OpenBLAS's kernels for AVX-512 cores (SkylakeX, and Cooperlake and Sapphire Rapids after it) run
a float32 product of at most SMALL_PRODUCT multiply-adds (rows x inner x columns) without
repacking its operands. The loop's products h @ Wh are just above that (16 x 256 x 1024 for LSTM
256 on half a batch), so cut into blocks of columns under it they run faster:
`benchmarks/column_blocks.py` measured 1.11-1.42x at 16 rows and 1.09-1.22x at 32 here.
The blocks are views (no copy); a block's products are the whole one's, summed by another kernel
(equal to float32 rounding: bit for bit in most shapes measured).
Elsewhere (another core, another BLAS, float64) the products are left whole: there the cut would
only add calls. RNN_TUI_BLAS_BLOCKS=0 turns the cut off (for comparisons).
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

SMALL_PRODUCT = 1_000_000  # rows x inner x columns under which OpenBLAS skips repacking
SMALL_PRODUCT_CORES = ("skylakex", "cooperlake", "sapphirerapids")
BLOCK_ALIGN = 16  # columns: whole AVX-512 registers of float32
MAX_BLOCKS = 16  # beyond this, the calls cost more than the cut saves
ENV = "RNN_TUI_BLAS_BLOCKS"

Blocks = list[tuple[np.ndarray, slice]]  # (a view of some of W's columns, which columns)


@functools.cache
def openblas_core() -> str | None:
    """The core OpenBLAS chose at load (`openblas_get_corename`), lower case; None when NumPy's
    BLAS is not an OpenBLAS that says (MKL, Accelerate, a build without the call)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_"):
                get = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
                if get is not None:
                    get.restype = ctypes.c_char_p
                    name = get()
                    return name.decode("ascii", "replace").lower() if name else None
    return None


def block_width(rows: int, inner: int, columns: int) -> int | None:
    """Columns a block, in whole registers, for the fewest small products that cover the columns,
    as even as they can be (a narrow last block runs the kernel at a fraction of its width:
    (16, 256) by 256 columns took 21.8 us as 240 + 16 and 20.8 as 128 + 128; by 1024 columns 115.6
    as 4 x 240 + 64 and 104.8 as 4 x 208 + 192); None when the product is small already or would
    take more than MAX_BLOCKS calls."""
    if rows * inner * columns <= SMALL_PRODUCT:
        return None
    widest = SMALL_PRODUCT // (rows * inner) // BLOCK_ALIGN * BLOCK_ALIGN
    if widest < BLOCK_ALIGN:
        return None
    blocks = -(-columns // widest)
    if blocks > MAX_BLOCKS:
        return None
    return -(-columns // (blocks * BLOCK_ALIGN)) * BLOCK_ALIGN


def column_block(rows: int, inner: int, columns: int, dtype) -> int | None:
    """Columns a block for the product of (rows, inner) by (inner, columns) here, or None: whole
    (no small-product kernel, float64, or RNN_TUI_BLAS_BLOCKS=0)."""
    if os.environ.get(ENV, "1") == "0" or np.dtype(dtype) != np.float32:
        return None
    if openblas_core() not in SMALL_PRODUCT_CORES:
        return None
    return block_width(rows, inner, columns)


def column_blocks(W: np.ndarray, rows: int) -> Blocks | None:
    """(view of W's columns, their slice) for each block of `column_block`; None: whole."""
    inner, columns = W.shape
    block = column_block(rows, inner, columns, W.dtype)
    if block is None:
        return None
    return [(W[:, j : j + block], slice(j, j + block)) for j in range(0, columns, block)]


def product(a: np.ndarray, W: np.ndarray, blocks: Blocks | None, out: np.ndarray) -> None:
    """out = a @ W, block by block when `blocks` (from `column_blocks(W, len(a))`)."""
    if blocks is None:
        np.matmul(a, W, out=out)
        return
    for Wb, cols in blocks:
        np.matmul(a, Wb, out=out[:, cols])
