"""The typing session with type-ahead: the model shown (mixture, network or n-gram), the network
learning from the typing, word suggestions and the keys they saved. No Textual here.

The network's predictor runs on the adapted weights while "learn from my typing" is on (they
come from `adapter.TypingAdapter`, between keys); a second predictor on the trained weights
scores the same keys, so the two figures in "your typing" are about the same characters, each
scored once, before the key reached either model.
"""

from __future__ import annotations

from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import Predictor
from rnn_tui.lab.metrics import TypingStats
from rnn_tui.lab.mixture import MixtureModel
from rnn_tui.lab.suggest import word_suggestions
from rnn_tui.runtime.session import CONTEXT_CHARS, PredictionSession

SHOWN = ("mix", "net", "ngram")
SHOWN_NAMES = {"mix": "mixture", "net": "network", "ngram": "n-gram"}
SUGGESTIONS = 3
# Background work starts this long after the last key, so that the key's own frame is drawn
# first: the threads' Python code holds the GIL the UI thread needs (keys come 100+ ms apart).
QUIET = 0.03
# Learning from the typing is undone when, over the last GUARD_KEYS keys, it cost more than
# GUARD_BITS bits a character more than the trained weights (e.g. a network that memorised its
# text, whose sharp minimum any step leaves).
GUARD_KEYS = 64
GUARD_BITS = 0.1


class TypeAheadSession(PredictionSession):
    def __init__(self, prime: str = "") -> None:
        super().__init__(prime)
        self.shown = "mix"
        self.mixture: MixtureModel | None = None
        self.trained: ParamSnapshot | None = None  # the training's newest weights
        self.plain: Predictor | None = None  # the network on them: scores keys "without"
        self.adapted = TypingStats()  # the keys, scored by the network that learns
        self.unadapted = TypingStats()  # the same keys, by the trained weights only
        self.keys_saved = 0
        self._recent: list[float] = []  # adapted minus trained bits of the last keys
        self.suggestions: list[str] = []
        self.suggestions_for: str | None = None  # the text they complete
        self.learning = True  # the mixture learns from the typing

    # -- which model answers -------------------------------------------------------------------
    @property
    def model(self):
        """The shown model: falls back to the network while the n-gram is not there yet."""
        if self.shown == "ngram" and self.baseline is not None:
            return self.baseline
        if self.shown == "mix" and self.mixture is not None:
            return self.mixture
        return self.predictor

    @property
    def shown_name(self) -> str:
        model = self.model
        if model is None:
            return SHOWN_NAMES[self.shown]
        if model is self.mixture:
            return "mixture"
        return "n-gram" if model is self.baseline else "network"

    def weights(self) -> dict[str, float] | None:
        """The mixture's current share of the weight of the network, the n-gram and the text
        typed (None without a mixture)."""
        if self.mixture is None:
            return None
        m = self.mixture
        return dict(zip(m.weight_labels, map(float, m.weights), strict=True))

    def _remix(self) -> None:
        if (
            self.predictor is None
            or self.baseline is None
            or self.predictor.vocab != self.baseline.vocab
        ):
            self.mixture = (
                None  # (for a moment after a change of corpus, the n-gram is the old one's)
            )
            return
        old = self.mixture
        self.mixture = MixtureModel([self.predictor, self.baseline], ["net", "kn"], share=True)
        # What the mixture learnt from the typing carries over to new network weights.
        if old is None or not self.mixture.take_over(old):
            self.mixture.learn = self.learning
            self.mixture.follow_text(self.text[-CONTEXT_CHARS:] or self.prime)

    def set_learning(self, on: bool) -> None:
        """Learning from the typing on or off: the mixture's weights and its models of the text
        follow it (the network's adaptation is the adapter's)."""
        self.learning = on
        if self.mixture is not None:
            self.mixture.learn = on

    def forget_typing(self) -> None:
        """The mixture forgets what it learnt from the typing (weights and text models)."""
        if self.mixture is not None:
            self.mixture.reset_weights()
            self.mixture.follow_text(self.text[-CONTEXT_CHARS:] or self.prime)

    # -- inputs ----------------------------------------------------------------------------------
    def set_trained(self, snapshot: ParamSnapshot) -> None:
        """New weights from training: the reference for "without adaptation"."""
        self.trained = snapshot
        self.plain = Predictor(snapshot)
        self.plain.feed_text(self.text[-300:] or self.prime)

    def set_snapshot(self, snapshot: ParamSnapshot) -> None:
        super().set_snapshot(snapshot)
        self._remix()

    def set_baseline(self, model) -> None:
        super().set_baseline(model)
        self._remix()

    def set_text(self, text: str) -> None:
        old = self.text
        if text == old:
            return
        if not text:
            self.reset_typing()
        super().set_text(text)
        if not (old and text.startswith(old) and len(text) - len(old) <= 4):
            self._refeed_plain()
            if self.mixture is not None:  # its models were fed directly by the re-feed
                self.mixture.follow_text(self.text[-CONTEXT_CHARS:] or self.prime)

    def accepted(self, inserted: str) -> None:
        """A suggestion of `inserted` characters went in with one key."""
        self.keys_saved += max(len(inserted) - 1, 0)

    def reset_typing(self) -> None:
        self.reset_adaptation_stats()
        self.keys_saved = 0

    def reset_adaptation_stats(self) -> None:
        self.adapted.reset()
        self.unadapted.reset()
        self._recent.clear()

    def _refeed_plain(self) -> None:
        if self.plain is not None:
            self.plain.reset()
            self.plain.feed_text(self.text[-300:] or self.prime)

    def _feed(self, predictor: Predictor, ch: str) -> None:  # (the session's predictor)
        self.stats.update(predictor, ch)  # scored before any model sees it
        with_adapting = self.adapted.update(predictor, ch)
        if self.plain is not None:
            without = self.unadapted.update(self.plain, ch)
            self.plain.feed(ch)
            self._recent = [*self._recent[-(GUARD_KEYS - 1) :], with_adapting.bits - without.bits]
        if self.mixture is not None:
            known = self.mixture.feed(ch)  # learns its weights, feeds both models
        else:
            known = predictor.feed(ch)
            if self.baseline is not None:
                self.baseline.feed(ch)
        if not known:
            self.last_unknown = ch

    def adaptation_hurts(self) -> bool:
        """Over the last GUARD_KEYS keys, the adapted weights did worse than the trained ones."""
        recent = self._recent
        return len(recent) >= GUARD_KEYS and sum(recent) / len(recent) > GUARD_BITS

    # -- outputs ---------------------------------------------------------------------------------
    def top_k(self, k: int) -> list[tuple[str, float]]:
        model = self.model
        return model.top_k(k) if model is not None else []

    def suggestion_model(self):
        """A copy of the shown model for a beam search on another thread (its own buffers)."""
        model = self.model
        return None if model is None else model.for_thread()

    def completion(self) -> str:
        """The first suggestion (the ghost text), when it completes the current text."""
        if self.suggestions and self.suggestions_for == self.text:
            return self.suggestions[0]
        return ""


class SuggestionThread:
    """Beam searches on a thread of their own, the newest question only: while one runs, newer
    keys replace the waiting question instead of queueing searches behind each other."""

    def __init__(self, on_result) -> None:
        import threading

        self.on_result = on_result  # (text, words), called from the thread
        self._cond = threading.Condition()
        self._question: tuple[str, object] | None = None
        self._closed = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="suggestions", daemon=True)
        self._thread.start()

    def ask(self, text: str, model) -> None:
        with self._cond:
            self._question = (text, model)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return self._question is None and not self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._question is None and not self._closed:
                    self._cond.wait()
                asked = self._question
                while not self._closed and self._cond.wait(QUIET) and self._question is not asked:
                    asked = self._question  # a newer key within QUIET: wait for quiet again
                if self._closed:
                    return
                question, self._question = self._question, None
                assert question is not None  # the wait above ends on a question or on close
                text, model = question
                self._busy = True
            try:
                words = word_suggestions(model, SUGGESTIONS, text)
            finally:
                with self._cond:
                    self._busy = False
            self.on_result(text, words)
