"""The lessons screen: the tutorial's experiments, each trained live and drawn unrolled in time.

Letters: the four `abcde` presets (a 3-unit vanilla RNN reading 1 or 4 letters, one-hot or through
an embedding). Series: the tutorial's ramp and a noisy sine (a regression head, MSE). Each lesson
trains in a training process, as the main screen's model does (`runtime.training_process`, here
in runs of a number of steps), paced so that it can be watched learning; every figure comes from
the engine (Predictor, SeriesModel.unroll, the trainers' progress), the screen draws.
(Over 400 lines: two kinds of lesson, each with its process, its pacing and its views to switch.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from rnn_tui.app.lessons.history import HistorySpark
from rnn_tui.app.lessons.letters import LetterSteps, LetterUnrolled
from rnn_tui.app.lessons.plot import SeriesPicture, SeriesPlot
from rnn_tui.app.lessons.series_unrolled import SeriesUnrolled
from rnn_tui.app.lessons.series_weights import SeriesWeights
from rnn_tui.app.lessons.status import LessonBar, LessonStatus
from rnn_tui.app.widgets.status import STATE_ICONS
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import Predictor
from rnn_tui.engine.series_trainer import SeriesLesson, SeriesProgress, SeriesTrainer
from rnn_tui.engine.trainer import Progress, Trainer
from rnn_tui.lab.glyphs import format_prob, glyph
from rnn_tui.lab.presets import (
    LETTERS,
    PRESETS,
    lesson_accuracy,
    lesson_batches,
    lesson_cases,
    preset_configs,
)
from rnn_tui.lab.series_lessons import LESSONS as SERIES_LESSONS
from rnn_tui.runtime.training_process import TrainingProcess

LESSON_SECONDS = (
    15.0  # a run is paced to last about this long: the lessons learn in well under a second
)
LETTER_STEPS = 300  # training steps in one run of a letter lesson (100 % comes within 20 to 90)


@dataclass(frozen=True)
class Lesson:
    name: str  # a preset (letters) or a series lesson
    kind: str  # "letters" | "series"
    explain: str  # one line: what this lesson shows (1 in vs 4 in for the letters)


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "abcde-1",
        "letters",
        "1 in: one step from h0 = 0, so Whh carries nothing: x → Wxh → h → Why",
    ),
    Lesson(
        "abcde-4",
        "letters",
        "4 in: four steps; h carries a, b, c on through Whh; only step 4 is scored",
    ),
    Lesson(
        "abcde-1-embed",
        "letters",
        "1 in, embedded: x_t = E[letter], 2 learnt numbers instead of 5 one-hot ones",
    ),
    Lesson(
        "abcde-4-embed",
        "letters",
        "4 in, embedded: x_t = E[letter]; h carries the past letters on through Whh",
    ),
    Lesson(
        "ramp",
        "series",
        "the tutorial's example: read 0.1 … 0.6, predict 0.2 … 0.7; MSE loss, Adam",
    ),
    Lesson(
        "sine",
        "series",
        "a noisy sine, period 25: read 25 values, predict each next; forecast past ┊",
    ),
)
EXPLAIN_WIDTH = 78  # each explanation fits one line of an 80-column terminal
LESSON_NAMES = tuple(lesson.name for lesson in LESSONS)


@dataclass
class LessonProgress(Message):
    """A lesson trainer's whole state (Progress or SeriesProgress): a newer one replaces a queued one."""

    run: int  # which training process sent it: messages of a halted one are ignored
    progress: Progress | SeriesProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LessonProgress) and message.run == self.run


# -- reading the engine ------------------------------------------------------------------------
def letter_steps(snapshot: ParamSnapshot, text: str, n_in: int) -> LetterSteps:
    """Feed `text` to the network a letter a step (from h0 = 0) and keep every step's h_t and y_t."""
    predictor = Predictor(snapshot)
    V, H = len(snapshot.vocab), snapshot.config.hidden
    hidden, probs = np.zeros((len(text), H)), np.zeros((len(text), V))
    tops = []
    for t, ch in enumerate(text):
        predictor.feed(ch)
        hidden[t], probs[t] = predictor.hidden, predictor.probs
        tops.append(predictor.top_k(1)[0][0])
    embeddings = None
    if snapshot.config.embed:
        ids = np.array([snapshot.vocab.id(ch) for ch in text], dtype=np.intp)
        embeddings = snapshot.params["E"][ids]  # x_t: the letter's row of the embedding
    return LetterSteps(
        snapshot.vocab.chars,
        text,
        embeddings,
        hidden,
        probs,
        tuple(tops),
        snapshot.params,
        n_in - 1,
    )


def case_results(
    snapshot: ParamSnapshot, n_in: int
) -> tuple[float, list[tuple[str, str, str, float]]]:
    """The lesson's accuracy and each case: (input, right answer, the network's top letter, its probability)."""
    predictor = Predictor(snapshot)
    cases = []
    for x, y in lesson_cases(n_in):
        predictor.reset()
        predictor.feed_text(x)
        top, p = predictor.top_k(1)[0]
        cases.append((x, y, top, p))
    return lesson_accuracy(predictor, n_in), cases


# -- the screen ------------------------------------------------------------------------------
class LessonsScreen(ModalScreen[None]):
    """Choose a lesson (1-6), type letters (a-e), watch it train; Escape goes back.

    A ModalScreen (opaque here) so that its keys are its own: the app's single-key commands act on
    the main screen and must not fire from here.
    """

    CSS_PATH = Path(__file__).with_name("lessons.tcss")
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape", "back", "back", key_display="esc"),
        Binding("1", "choose(0)", "lesson", key_display="1-6"),
        *[Binding(str(i + 1), f"choose({i})", show=False) for i in range(1, len(LESSONS))],
        Binding("right", "cycle(1)", "next lesson", show=False),
        Binding("left", "cycle(-1)", "previous lesson", show=False),
        Binding(
            LETTERS[0], f"letter('{LETTERS[0]}')", "type", key_display=f"{LETTERS[0]}-{LETTERS[-1]}"
        ),
        *[Binding(ch, f"letter('{ch}')", show=False) for ch in LETTERS[1:]],
        Binding("backspace", "delete", "delete", key_display="⌫"),
        Binding("space", "pause", "pause"),
        Binding("space", "train", "train"),
        Binding("n", "step", "step"),
        Binding("r", "restart", "restart"),
    ]

    def __init__(self, lesson: str = "abcde-4", *, paced: bool = True) -> None:
        """`paced` False trains at full speed (tests): a run then takes a fraction of a second."""
        super().__init__()
        self.index = LESSON_NAMES.index(lesson)
        self.paced = paced
        self.trainer: TrainingProcess | None = None
        self.series: SeriesLesson | None = None  # the series lesson on show
        self.progress: Progress | SeriesProgress | None = None
        self.state = RunState.TRAINING  # or PAUSED, DONE (the run has ended) or ERROR
        self.text = ""  # the letters typed, at most the lesson's number of inputs
        self.run = 0  # one per training process: what a halted one still sends is ignored
        self.accuracy: float | None = None
        self.steps: LetterSteps | None = None
        self._worker: Worker | None = None
        self._shown_state: tuple[int, str] | None = None

    @property
    def lesson(self) -> Lesson:
        return LESSONS[self.index]

    @property
    def n_in(self) -> int:
        return PRESETS[self.lesson.name].lesson_inputs if self.lesson.kind == "letters" else 0

    def compose(self) -> ComposeResult:
        yield LessonStatus(id="lesson-status")
        yield LessonBar(id="lesson-bar")
        yield Static(id="lesson-explain")
        with Vertical(id="letters-view"):
            yield Static(id="lesson-input")
            yield LetterUnrolled(id="unrolled")
            yield Static(id="lesson-cases")
            yield HistorySpark("training loss (nats/char)", id="lesson-loss")
        with Vertical(id="series-view"):
            yield SeriesPlot(id="series-plot")
            yield SeriesUnrolled(id="series-unrolled")
            yield SeriesWeights(id="series-weights")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._start(self.index)

    def on_unmount(self) -> None:
        self._halt()

    # -- training ----------------------------------------------------------------------------
    def _start(self, index: int) -> None:
        """A fresh trainer for lesson `index` (the old run is stopped) and its first run."""
        self._halt()
        self.index = index
        lesson = self.lesson
        if lesson.kind == "letters":
            preset = PRESETS[lesson.name]
            corpus = load_corpus(preset.corpus)
            model_config, train_config = preset_configs(preset, len(corpus.vocab))
            local = Trainer(
                corpus, model_config, train_config, batches=lesson_batches(preset, corpus.vocab)
            )
            self.text = lesson_cases(preset.lesson_inputs)[0][0]
            self.progress = local.progress(RunState.TRAINING, local.snapshot(), 0.0)
            self.trainer = TrainingProcess(local, lesson.name, in_runs=True)
            self.series = None
        else:
            series = SeriesTrainer(SERIES_LESSONS[lesson.name])
            self.progress = series.progress(RunState.TRAINING)
            self.trainer = TrainingProcess(series, in_runs=True)
            self.series = series.lesson
        self._worker = self._train(self.trainer, self.run)
        self.set_class(lesson.kind == "series", "-series")
        self.query_one("#lesson-bar", LessonBar).show(LESSON_NAMES, index)
        self.query_one("#lesson-explain", Static).update(Text(lesson.explain), layout=False)
        self._run()

    def _run(self, amount: int | None = None, paced: bool | None = None) -> None:
        """Ask the training process for a run: `amount` steps (epochs), by default a whole lesson run."""
        if self.trainer is None:
            return
        local = self.trainer.local
        full = local.config.epochs if isinstance(local, SeriesTrainer) else LETTER_STEPS
        amount = full if amount is None else amount
        pace = full / LESSON_SECONDS if (self.paced if paced is None else paced) else None
        self.trainer.start_run(amount, pace)
        self.state = RunState.TRAINING
        self._show()

    def _halt(self) -> None:
        """Stop the lesson's training process (it notices within a step) and ignore what it still sends."""
        self.run += 1
        if self._worker is not None:
            self._worker.cancel()
        self._worker = None

    @work(thread=True, exclusive=True, exit_on_error=False, group="lesson")
    def _train(self, trainer: TrainingProcess, run: int):
        """Relays the lesson's training process (started here) until the screen halts it."""
        return trainer.run(
            get_current_worker().cancelled_event,
            lambda progress: self.post_message(LessonProgress(run, progress)),
        )

    def on_lesson_progress(self, message: LessonProgress) -> None:
        if message.run != self.run or not self.is_attached:
            return
        self.progress = message.progress
        if message.progress.state == RunState.STOPPED:
            self.state = RunState.DONE
        elif self.state != RunState.ERROR:
            self.state = message.progress.state
        self._show()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker is not self._worker:
            return
        error = event.worker.error
        text = str(error) if isinstance(error, RnnTuiError) else f"{type(error).__name__}: {error}"
        self.state = RunState.ERROR
        self._show()
        self.notify(
            f"{text}\npress r to restart the lesson",
            title="lesson failed",
            severity="error",
            timeout=15,
        )

    # -- drawing -----------------------------------------------------------------------------
    def _show(self) -> None:
        if self.lesson.kind == "letters":
            self._show_letters()
        else:
            self._show_series()
        if (self.index, self.state) != self._shown_state:  # the footer follows the lesson and state
            self._shown_state = (self.index, self.state)
            self.refresh_bindings()

    def _status(self, model: str, *figures: str, drop: tuple[int, ...] = ()) -> None:
        """Lesson │ model │ state │ figures...; the score last (bold), `drop` goes first when narrow."""
        icon = STATE_ICONS[self.state]
        self.query_one("#lesson-status", LessonStatus).show(
            [self.lesson.name, model, f"{icon} {self.state}", *figures], self.state, drop
        )

    def _show_letters(self) -> None:
        p, n = self.progress, self.n_in
        if not isinstance(p, Progress) or p.snapshot is None:  # (lesson progress carries weights)
            return
        snapshot = p.snapshot
        self.accuracy, cases = case_results(snapshot, n)
        self._status(
            snapshot.config.describe(),
            f"step {p.step:,}",
            f"loss {p.loss:.3f}",
            f"accuracy {self.accuracy:.0%}",
            drop=(4, 1),
        )
        self.steps = letter_steps(snapshot, self.text, n)
        self.query_one("#unrolled", LetterUnrolled).show(self.steps)

        line = Text("input ", style="bold")
        for ch in self.text:
            line.append(glyph(ch) + " ", style="bold reverse")
            line.append(" ")
        if len(self.text) < n:
            line.append("_ " * (n - len(self.text)), style="dim")
            more = n - len(self.text)
            line.append(f" type {more} more letter{'s' if more > 1 else ''}", style="italic dim")
        else:
            top = self.steps.tops[-1]
            prob = float(self.steps.probs[-1, self.steps.chars.index(top)])
            line.append("→ ", style="dim")
            line.append(f" {glyph(top)} ", style="bold reverse")
            line.append(f" {format_prob(prob).strip()}", style="bold")
        line.append(f"   type {LETTERS[0]}-{LETTERS[-1]} · ⌫ deletes", style="dim")
        self.query_one("#lesson-input", Static).update(line, layout=False)

        right = sum(top == y for _, y, top, _ in cases)
        summary = Text(f"{right}/{len(cases)} right ", style="bold")
        for x, y, top, _ in cases:
            summary.append(" ")
            summary.append(f"{x}→{top}", style="" if top == y else "bold red")
            summary.append("✓" if top == y else f"✗{y}", style="green" if top == y else "bold red")
        self.query_one("#lesson-cases", Static).update(summary, layout=False)
        self.query_one("#lesson-loss", HistorySpark).show(p.loss_history)

    def _show_series(self) -> None:
        p, lesson = self.progress, self.series
        if not isinstance(p, SeriesProgress) or lesson is None:
            return
        c = p.snapshot.config
        self._status(
            f"{c.cell} {c.hidden}, MSE, {c.optimizer} {c.lr:g}",
            f"epoch {p.epoch:,}/{p.epochs:,}",
            f"mse {p.mse:.2e}",
            drop=(1,),
        )
        self.query_one("#series-plot", SeriesPlot).show(
            SeriesPicture(
                p.targets,
                p.predictions,
                p.forecast,
                p.continuation,
                p.mse_history,
                p.mse,
                lesson.goal_mse,
            )
        )
        W = lesson.window
        unrolled = p.snapshot.model().unroll(lesson.series[-W - 1 : -1])  # the last training window
        self.query_one("#series-unrolled", SeriesUnrolled).show(
            unrolled.inputs,
            unrolled.hidden[-1],
            unrolled.outputs,
            lesson.series[-W:],
            len(lesson.series) - W - 1,
        )
        self.query_one("#series-weights", SeriesWeights).show(p.snapshot.params)

    # -- commands ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what does not apply: typing in a series lesson; pause unless training; step
        unless paused or done."""
        letters = self.lesson.kind == "letters"
        if action in ("letter", "delete"):
            return letters
        if action == "pause":
            return self.state == RunState.TRAINING
        if action == "train":
            return self.state in (RunState.PAUSED, RunState.DONE)
        if action == "step":
            return self.state in (RunState.PAUSED, RunState.DONE)
        return True

    def action_back(self) -> None:
        self._halt()
        self.dismiss(None)

    def action_choose(self, index: int) -> None:
        if index != self.index or self.state == RunState.ERROR:
            self._start(index)

    def action_cycle(self, delta: int) -> None:
        self._start((self.index + delta) % len(LESSONS))

    def action_letter(self, ch: str) -> None:
        self.text = (self.text + ch)[-self.n_in :]
        self._show()

    def action_delete(self) -> None:
        self.text = self.text[:-1]
        self._show()

    def action_pause(self) -> None:
        if self.state == RunState.TRAINING and self.trainer is not None:
            self.trainer.pause()
            self.state = RunState.PAUSED
            self._show()

    def action_train(self) -> None:
        """Resume when paused; when a run is done, another run from where it stopped."""
        if self.state == RunState.PAUSED and self.trainer is not None:
            self.trainer.resume()
            self.state = RunState.TRAINING
            self._show()
        elif self.state == RunState.DONE:
            self._run()

    def action_step(self) -> None:
        if self.state == RunState.PAUSED and self.trainer is not None:
            self.trainer.step_once()
        elif self.state == RunState.DONE:
            self._run(1, paced=False)

    def action_restart(self) -> None:
        self._start(self.index)
        self.notify("lesson restarted from fresh weights", timeout=3)
