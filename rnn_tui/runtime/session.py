"""What the user typed, seen through the network (and the n-gram baseline): no Textual here.

The predictors advance one character per keystroke; a new snapshot or an edit other than
appending re-feeds the text, bounded to its last CONTEXT_CHARS characters.
"""

from __future__ import annotations

from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import NextCharModel, Predictor
from rnn_tui.lab.metrics import TypingStats

CONTEXT_CHARS = 300  # a re-feed runs over at most this many of the last characters
COMPLETION_CHARS = 20  # the ghost text completes a word of at most this many more characters


class PredictionSession:
    """The network's predictor and the baseline's, fed with the user's text; typing counters."""

    def __init__(self, prime: str = "") -> None:
        self.prime = prime  # what the models are fed while nothing is typed (not scored)
        self.text = ""  # model text: real characters (newline, tab), not their glyphs
        self.predictor: Predictor | None = None
        self.baseline: NextCharModel | None = None
        self.stats = TypingStats()
        self.last_unknown: str | None = None  # the most recent typed char outside the vocabulary
        self.refeeds = 0  # how many times the whole (bounded) text was fed again

    @property
    def context(self) -> str:
        """The text the predictions follow: the typed text, or the prime while nothing is typed."""
        return self.text or self.prime

    # -- inputs ------------------------------------------------------------------------------
    def set_snapshot(self, snapshot: ParamSnapshot) -> None:
        """A new set of weights: rebuild the predictor and run the bounded text through it once."""
        self.predictor = Predictor(snapshot)
        self._refeed()

    def set_baseline(self, model: NextCharModel | None) -> None:
        self.baseline = model.clone() if model is not None else None
        if self.baseline is not None:
            self.baseline.reset()
            self.baseline.feed_text(self.text[-CONTEXT_CHARS:] or self.prime)

    def set_text(self, text: str) -> None:
        """The input changed: one step per appended character, a bounded re-feed otherwise."""
        if text == self.text:
            return
        old, self.text = self.text, text
        if self.predictor is None:
            return
        if old and text.startswith(old) and len(text) - len(old) <= 4:
            for ch in text[len(old) :]:
                self._feed(self.predictor, ch)
        else:
            self._refeed()

    def _refeed(self) -> None:
        self.refeeds += 1
        self.stats.reset()
        self.last_unknown = None
        for model in (self.predictor, self.baseline):
            if model is not None:
                model.reset()
                if not self.text:
                    model.feed_text(self.prime)
        context = self.text[-CONTEXT_CHARS:]
        if not context or self.predictor is None:
            return
        # One chunk through the network gives the distribution before every character at once.
        dists = self.predictor.feed_scored(context)
        j = 0
        vocab = self.predictor.vocab
        for ch in context:
            fed = (
                1 if vocab.id(ch) is not None else len(vocab.encode(ch))
            )  # bytes, or the unknown symbol
            self.stats.update(dists[j], ch, vocab, later=list(dists[j + 1 : j + fed]))
            if fed:
                j += fed
            else:
                self.last_unknown = ch
        if self.baseline is not None:
            self.baseline.feed_text(context)

    def _feed(self, predictor: Predictor, ch: str) -> None:
        self.stats.update(predictor, ch)  # scored before the model sees it
        if not predictor.feed(ch):
            self.last_unknown = ch
        if self.baseline is not None:
            self.baseline.feed(ch)

    # -- outputs -----------------------------------------------------------------------------
    def top_k(self, k: int) -> list[tuple[str, float]]:
        return self.predictor.top_k(k) if self.predictor is not None else []

    def baseline_top_k(self, k: int) -> list[tuple[str, float]]:
        return self.baseline.top_k(k) if self.baseline is not None else []

    def completion(self) -> str:
        """The network's greedy guess at the rest of the typed word (after a space: the next word)."""
        if self.predictor is None or not self.text:
            return ""
        return self.predictor.greedy(COMPLETION_CHARS, stop_at_word_end=True)

    def hidden(self):
        return self.predictor.hidden if self.predictor is not None else None

    def sample(self, length: int, temperature: float, seed: int) -> str:
        """A continuation of the context (no state change); temperature 0 is greedy."""
        return (
            self.predictor.sample(length, temperature, seed) if self.predictor is not None else ""
        )
