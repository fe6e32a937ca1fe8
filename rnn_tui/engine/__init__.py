"""The engine: the recurrent network in plain NumPy, and everything it needs to learn.

Configuration, corpora and vocabularies, the cells (forward and hand-written backward; their
products shaped for the BLAS underneath, `blas`), the stack
of recurrent layers under two heads (the character model's softmax, the series lessons' linear
output), optimizers, the training loop both trainers extend, incremental prediction, checkpoints
and the gradient check. The
bottom layer: it imports nothing else of rnn-tui, and never Textual or Rich (a contract in CI).
"""
