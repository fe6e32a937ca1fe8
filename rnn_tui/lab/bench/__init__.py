"""The benchmarks behind `rnn-tui bench` (the command and its report are in `cli/bench.py`).

Every measurement of ours and of PyTorch runs in a worker process of its own (`worker`), and the
two are driven one repetition at a time in A B A B order (`training`): both see the same machine,
and they never share a thread pool. `cases` holds what is timed, `micro` the measurements inside
our worker (matmul rate, keystroke latency), `timing` the clock and the medians.
"""
