"""rnn-tui: watch a from-scratch NumPy recurrent network learn to predict the next letter."""

__version__ = "0.1.0"
