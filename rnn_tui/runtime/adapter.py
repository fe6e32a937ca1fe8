"""Learning from the user's typing (dynamic evaluation) on a thread of its own, off the key path.

The UI thread only hands over the typed text and the trained weights (`type`, `set_trained`:
a queue put each) and, between keys, reads the newest adapted weights (`latest`). The gradient
steps (engine/dynamic.py: one per segment of typed characters) run here, with NumPy releasing
the GIL in its larger operations.

When training publishes new weights, what was learnt from the typing is re-applied on top of
them (the same change from the trained weights); a model of another shape restarts it. `note`
says which happened last.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from rnn_tui.engine.dynamic import DynamicConfig, DynamicPredictor
from rnn_tui.engine.model import ParamSnapshot

_STOP = object()
QUIET = 0.03  # seconds after a key before learning from it (the key's frame is drawn first)


class TypingAdapter:
    """A learner thread; `on_update(version)` is called from it after new weights are ready."""

    def __init__(
        self, config: DynamicConfig | None = None, on_update: Callable[[int], object] | None = None
    ) -> None:
        self.config = config or DynamicConfig()
        self.on_update = on_update
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._latest: ParamSnapshot | None = None
        self.version = 0
        self.steps = 0  # gradient steps taken since the last reset
        self.note = ""
        self._learner: DynamicPredictor | None = None
        self._text = ""
        self._thread = threading.Thread(target=self._run, name="typing-adapter", daemon=True)
        self._thread.start()

    # -- the UI thread's side: non-blocking ----------------------------------------------------
    def set_trained(self, snapshot: ParamSnapshot) -> None:
        self._queue.put(("trained", snapshot))

    def type(self, text: str) -> None:
        """The whole typed text (model characters); only what was appended is learnt from."""
        self._queue.put(("text", text))

    def reset(self) -> None:
        """Back to the trained weights: everything learnt from the typing is forgotten."""
        self._queue.put(("reset", None))

    def latest(self) -> tuple[int, ParamSnapshot | None]:
        with self._lock:
            return self.version, self._latest

    def close(self) -> None:
        self._queue.put((_STOP, None))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and benchmarks: True once everything queued so far has been handled."""
        done = threading.Event()
        self._queue.put(("flag", done))
        return done.wait(timeout)

    # -- the learner thread ------------------------------------------------------------------
    def _run(self) -> None:
        dirty = False
        while True:
            kind, value = self._queue.get()
            if kind is _STOP:
                return
            if kind == "text":  # wait for a pause, then learn from the newest text at once
                time.sleep(QUIET)
                while not self._queue.empty() and self._queue.queue[0][0] == "text":
                    kind, value = self._queue.get()
            if kind == "trained":
                dirty |= self._rebase(value)
            elif kind == "text":
                dirty |= self._learn(value)
            elif kind == "reset" and self._learner is not None:
                self._learner.reset_weights()
                self.note = "reset to the trained weights"
                dirty = True
            if dirty and (self._queue.empty() or kind == "flag"):  # the last of a burst
                self._publish()
                dirty = False
            if kind == "flag":
                value.set()

    def _rebase(self, snapshot: ParamSnapshot) -> bool:
        learner = self._learner
        if learner is not None and learner.trained is snapshot:
            return False
        if learner is None or not learner.rebase(snapshot):
            restarted = learner is not None
            self._learner = DynamicPredictor(snapshot, self.config)
            self._learner.set_context(self._text[-self.config.segment :])
            self.note = "restarted: a new model" if restarted else ""
        elif learner.steps:
            self.note = f"re-applied on step {snapshot.step}"
        return True

    def _learn(self, text: str) -> bool:
        old, self._text = self._text, text
        learner = self._learner
        if learner is None:
            return False
        before = learner.steps
        if text.startswith(old):
            learner.feed_text(text[len(old) :])
        else:  # an edit: the context starts again from the text as it is now (nothing learnt)
            learner.set_context(text[-self.config.segment :])
        return learner.steps != before

    def _publish(self) -> None:
        learner = self._learner
        with self._lock:
            self._latest = learner.snapshot if learner is not None else None
            self.steps = learner.steps if learner is not None else 0
            self.version += 1
            version = self.version
        if self.on_update is not None:
            self.on_update(version)
