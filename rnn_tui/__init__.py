"""rnn-tui: watch a from-scratch NumPy recurrent network learn to predict the next letter."""

__version__ = "0.1.0"

# The variables that set how many threads BLAS (OpenBLAS, OpenMP, MKL) uses; read when numpy loads.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
