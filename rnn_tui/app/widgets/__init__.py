"""The widgets of the main screen, each showing one part of the training or the prediction."""

from rnn_tui.app.widgets.chart import ProbChart
from rnn_tui.app.widgets.hidden import HiddenStrip
from rnn_tui.app.widgets.loss import LossPanel
from rnn_tui.app.widgets.prompt import (
    CompletionSuggester,
    PromptInput,
    to_input_text,
    to_model_text,
)
from rnn_tui.app.widgets.sample import SampleLine
from rnn_tui.app.widgets.status import StatusLine
from rnn_tui.app.widgets.typing_panel import TypingPanel

__all__ = [
    "CompletionSuggester",
    "HiddenStrip",
    "LossPanel",
    "ProbChart",
    "PromptInput",
    "SampleLine",
    "StatusLine",
    "TypingPanel",
    "to_input_text",
    "to_model_text",
]
