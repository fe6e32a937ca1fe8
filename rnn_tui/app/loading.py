"""The first frame for a big corpus: a status line with a progress bar while the file is read on a
worker thread; the playground starts (and trains) once the ids are ready.

A separate small app rather than a state of the playground: every part of the playground needs
a corpus, and this way none of them has to learn to wait for one. The read is cancelled by
quitting (the worker's cancelled event, checked between chunks), which leaves no half-made cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

T = TypeVar("T")
LOADING_MIN_BYTES = 8_000_000  # smaller files read in well under a second: no loading screen


class LoadCancelled(Exception):
    """The user quit while the corpus was being read."""


class ReadProgress(Message):
    """Bytes read so far (both passes) out of all; the latest replaces any not yet shown."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ReadProgress)


class CorpusLoading(App, Generic[T]):
    """Runs `load(progress)` on a worker; exits with ("ok", its result) or ("error", exception)."""

    TITLE = "rnn-tui"
    CSS = """
    #status { height: 1; background: $primary 25%; color: $text; }
    #status Static { width: auto; }
    #status ProgressBar { width: 1fr; padding: 0 1; }
    #hint { padding: 1 2; color: $text-muted; }
    """
    BINDINGS = [Binding("q", "quit", "quit"), Binding("ctrl+c", "quit", "quit", show=False)]

    def __init__(self, name: str, load: Callable[[Callable[[int, int], None]], T]) -> None:
        super().__init__()
        self.corpus_name, self.load = name, load

    def compose(self) -> ComposeResult:
        with Horizontal(id="status"):
            yield Static(f" reading {self.corpus_name}", id="what", markup=False)  # (a path)
            yield ProgressBar(total=None, show_eta=True, id="bar")
        yield Static(
            "The first read of a big text counts its characters and caches their ids; "
            "the next open takes a fraction of a second. Training starts when it is done.",
            id="hint",
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="read")
    def _read(self) -> T:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise LoadCancelled()
            self.post_message(ReadProgress(done, total))

        return self.load(progress)

    def on_read_progress(self, message: ReadProgress) -> None:
        self.query_one("#bar", ProgressBar).update(total=message.total, progress=message.done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            self.exit(("ok", event.worker.result))
        elif event.state == WorkerState.ERROR:
            self.exit(("error", event.worker.error))

    async def action_quit(self) -> None:
        self.workers.cancel_group(self, "read")
        self.exit(("error", LoadCancelled()))


def load_with_progress(name: str, load: Callable[[Callable[[int, int], None]], T]) -> T:
    """`load(progress)` behind the loading screen; its exception (or LoadCancelled) is raised here."""
    outcome = CorpusLoading(name, load).run()
    if outcome is None:
        raise LoadCancelled()
    kind, value = outcome
    if kind == "error":
        raise value
    return value
