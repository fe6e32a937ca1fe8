"""The playground: trains in a child process, shows the loss live, predicts as the user types.

The app owns the training (a `TrainingProcess`), the predictions and the global actions; its
main screen (`screens.main.MainScreen`) holds the layout, settings/save/load are its `setup`.
(Over 400 lines: the predictions' pacing against the keystrokes, the side panels' throttle and
the demo all act on the training's snapshots, which live here.)"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import events, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from rnn_tui.app.commands import COMMANDS, command_bindings, key_display
from rnn_tui.app.demo import CLEAR, DemoScript
from rnn_tui.app.messages import BaselineReady, CheckpointReady, Saved, SetupReady, TrainingProgress
from rnn_tui.app.public import PublicPolicy
from rnn_tui.app.screens.dialogs import ConfirmScreen, HelpScreen, PathScreen
from rnn_tui.app.screens.main import MainScreen, Prompt
from rnn_tui.app.screens.settings import SettingsScreen
from rnn_tui.app.setup_actions import SetupActions
from rnn_tui.app.typeahead import TYPING_QUIET, AdaptedReady, SuggestionsReady, TypeAhead
from rnn_tui.app.widgets import (
    HiddenStrip,
    LossPanel,
    ProbChart,
    SampleLine,
    StatusLine,
    TypingPanel,
    to_input_text,
    to_model_text,
)
from rnn_tui.app.widgets.prompt import printable_prefix
from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.trainer import Progress
from rnn_tui.runtime import jobs
from rnn_tui.runtime.training_process import TrainingProcess
from rnn_tui.runtime.typeahead import TypeAheadSession

if TYPE_CHECKING:  # (the app starts without the regression lessons' module)
    from rnn_tui.engine.series_trainer import SeriesProgress

SAMPLE_INTERVAL = 4.0  # seconds between new samples while training
SAMPLE_CHARS = 120  # about what the sample line shows at 80 columns
PRIME_CHARS = 12  # while nothing is typed, predictions follow the corpus's first characters
DEMO_TICK = 0.05  # seconds between the demo's checks for its next keystroke
# While someone types, a new snapshot waits until the keys pause for TYPING_QUIET seconds (as the
# adapted weights do), unless the weights on show are SNAPSHOT_MAX_AGE seconds old: the keystrokes
# keep the UI thread (and the GIL) for themselves instead of sharing them with a predictor rebuild
# four times a second.
SNAPSHOT_MAX_AGE = 2.0
# "Your typing" and the hidden strip repaint at most this often (the chart: on every key). With
# them repainted at every key, a key took 10 ms to reach the chart (median); with this, 5.5 ms.
SIDE_INTERVAL = 0.25


class RnnTuiApp(App[int]):
    """The main screen is the app's default screen; modal screens sit on top of it."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "rnn-tui"
    AUTO_FOCUS = ""  # closing a dialog must not move focus into the input (command mode stays)
    BINDINGS = command_bindings()

    def __init__(
        self,
        corpus: Corpus,
        model_config: ModelConfig,
        train_config: TrainConfig,
        checkpoint: Checkpoint | None = None,
        preset: str | None = None,
        *,
        start_paused: bool = False,
        top_k: int = 10,
        temperature: float = 1.0,
        baseline: bool = True,
        sample_interval: float = SAMPLE_INTERVAL,
        demo: bool = False,
        public: PublicPolicy | None = None,
        workers: int | None = None,
    ) -> None:
        """`workers`: training processes (--workers); None: the default for whatever model is
        trained (`resolve_workers`)."""
        super().__init__()
        self.public = public  # public mode (`serve --public`): see app/public.py
        # The training processes the user chose, kept across rebuilds (None: the default); not
        # `self.workers`, which is Textual's.
        self.workers_chosen = workers
        self.worker_count = 1  # what the current training runs with (`resolve_workers`)
        self.corpus, self.model_config, self.train_config = corpus, model_config, train_config
        self.preset = preset
        self._initial_checkpoint = checkpoint
        self.paused = start_paused  # the user's choice; survives resets and rebuilds
        self.top_k, self.temperature = top_k, temperature
        self.baseline_enabled = baseline
        self.sample_interval = sample_interval
        self.session = TypeAheadSession()
        self.typeahead = TypeAhead(self)  # the chart's model, learning from typing, suggestions
        self.trainer: TrainingProcess | None = None
        self.progress: Progress | None = None
        self.generation = 0  # one per trainer: progress from a replaced trainer is ignored
        self.run_state = RunState.PAUSED if start_paused else RunState.TRAINING
        self.show_baseline = False
        self.baseline_bpc: float | None = None
        self.baseline_note = "fitting…" if baseline else "off"
        self.setup = SetupActions(self)
        self._train_worker: Worker | None = None
        self._snapshot_step = -1
        self._snapshot_time = 0.0  # time.monotonic() when the weights on show arrived
        self._last_key = 0.0
        self._pending: tuple[int, ParamSnapshot] | None = None  # (generation, snapshot) held back
        self._side_shown = 0.0  # time.monotonic() of the side panels' last repaint
        self._side_timer: Timer | None = None
        self._sample_key: tuple | None = None
        self._last_message = ""
        self._shown_state: RunState | None = None
        self._completion: tuple[tuple, str] = ((), "")
        self.demo_script = DemoScript(corpus.text, seed=train_config.seed) if demo else None
        self._demo_timer: Timer | None = (
            None  # runs while the demo types; any key or click stops it
        )

    # -- layout ------------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        return MainScreen(self._complete, self._text_changed, self._begin)

    @property
    def main_screen(self) -> MainScreen:
        return cast(MainScreen, self.screen_stack[0])  # the default screen

    def _begin(self) -> None:
        """The main screen is there: train, sample, and maybe start the demo."""
        ckpt = self._initial_checkpoint
        self._initial_checkpoint = None
        self.typeahead.start()
        self._start(self.corpus, self.model_config, self.train_config, ckpt, self.preset)
        self.query_one("#prompt").focus()
        self.set_interval(self.sample_interval, self._tick_sample)
        self.call_after_refresh(self._tick_sample, True)  # the first sample, after the first frame
        if self.demo_script is not None:
            self._demo_timer = self.set_interval(DEMO_TICK, self._demo_tick)
            self._show_training()

    # -- training ----------------------------------------------------------------------------
    def resolve_workers(
        self, choice: int | None, model_config: ModelConfig, train_config: TrainConfig
    ) -> int:
        """The training processes for a choice (None: all cores but one, fewer for a small
        model); in public mode never more than the server allows a visitor."""
        n = jobs.worker_count(choice, model_config, train_config)
        return n if self.public is None else min(n, self.public.max_workers)

    def _start(self, corpus, model_config, train_config, checkpoint=None, preset=None) -> None:
        """Replace the trainer (the old worker is cancelled: its training process stops, and
        with it its replicas) and start training the new one."""
        workers = self.resolve_workers(self.workers_chosen, model_config, train_config)
        trainer = TrainingProcess(
            jobs.make_trainer(corpus, model_config, train_config, checkpoint, preset, workers),
            preset,
        )
        self.worker_count = workers
        new_corpus = corpus is not self.corpus or self.trainer is None
        self.session.prime = corpus.text[:PRIME_CHARS]
        self.generation += 1
        self.trainer = trainer
        self.corpus, self.model_config, self.train_config, self.preset = (
            corpus,
            model_config,
            train_config,
            preset,
        )
        if self.paused:
            trainer.pause()
        self.run_state = RunState.PAUSED if self.paused else RunState.TRAINING
        self.progress = trainer.progress(self.run_state, None, 0.0)
        self._last_message = ""
        self._set_snapshot(trainer.snapshot())
        self.call_after_refresh(self._launch, trainer, self.generation, new_corpus)
        self._show_training()

    def _launch(self, trainer: TrainingProcess, generation: int, new_corpus: bool) -> None:
        """Start the training (and baseline) workers once the frame is painted: started earlier,
        they take the GIL and the core the first paint needs (about 60 ms of start-up)."""
        if generation != self.generation or not self.is_running:
            return
        self._train_worker = self._train(trainer, generation)
        if new_corpus:
            self._start_baseline()

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def _train(self, trainer: TrainingProcess, generation: int) -> Progress | SeriesProgress:
        """Relays the training process's progress (the training itself runs in that process)."""
        stop = get_current_worker().cancelled_event
        return trainer.run(stop, lambda p: self.post_message(TrainingProgress(generation, p)))

    def on_training_progress(self, message: TrainingProgress) -> None:
        if (
            message.generation != self.generation
            or self.run_state == RunState.ERROR
            or not self.is_running
        ):
            return
        p = self.progress = message.progress
        if p.state != RunState.STOPPED:
            self.run_state = p.state
        if p.snapshot is not None and p.snapshot.step != self._snapshot_step:
            self._offer_snapshot(p.snapshot)
        if p.message and p.message != self._last_message:
            self._last_message = p.message
            self.notify(p.message, title="training", severity="warning", timeout=8)
        self._show_training()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR or not self.is_running:
            return
        error = worker.error
        text = str(error) if isinstance(error, RnnTuiError) else f"{type(error).__name__}: {error}"
        if worker.group == "training":
            if worker is self._train_worker:
                self.run_state = RunState.ERROR
                self._show_training()
                self.notify(
                    f"{text}\ns saves the last good weights, r resets, o for settings",
                    title="training failed",
                    severity="error",
                    timeout=15,
                )
        elif worker.group == "baseline":
            self.baseline_note = "failed"
            self._show_training()
            self.notify(text, title="n-gram baseline", severity="warning")
        else:
            self.notify(text, title="not done", severity="error", timeout=10)

    # -- the n-gram baseline -----------------------------------------------------------------
    def _start_baseline(self) -> None:
        self.baseline_bpc = None
        self.session.set_baseline(None)
        if self.baseline_enabled:
            self.baseline_note = "fitting…"
            self._fit_baseline(self.corpus, self.train_config.val_fraction)

    @work(thread=True, exclusive=True, exit_on_error=False, group="baseline")
    def _fit_baseline(self, corpus: Corpus, val_fraction: float) -> None:
        model, bpc = jobs.fit_baseline(corpus, val_fraction)
        self.post_message(BaselineReady(corpus.name, model, bpc))

    def on_baseline_ready(self, message: BaselineReady) -> None:
        if message.corpus_name != self.corpus.name or not self.is_running:
            return
        self.baseline_bpc = message.val_bpc
        sampled = jobs.baseline_sample_note(self.corpus, self.train_config)
        self.baseline_note = f"{message.model.order}-gram KN{sampled}"
        self.query_one("#base-chart", ProbChart).title = f"{message.model.order}-gram"
        self.session.set_baseline(message.model)
        self._show_training()
        self._show_predictions()

    # -- predictions -------------------------------------------------------------------------
    def _offer_snapshot(self, snapshot) -> None:
        """Show new weights now, or once the typing pauses (see TYPING_QUIET)."""
        now = time.monotonic()
        if now - self._last_key < TYPING_QUIET and now - self._snapshot_time < SNAPSHOT_MAX_AGE:
            if self._pending is None:
                self.set_timer(TYPING_QUIET, self._take_pending)
            self._pending = (self.generation, snapshot)
            return
        self._set_snapshot(snapshot)

    def _take_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == self.generation and self.is_running:
            if pending[1].step != self._snapshot_step:
                self._offer_snapshot(pending[1])

    def _set_snapshot(self, snapshot) -> None:
        self._snapshot_step = snapshot.step
        self._snapshot_time = time.monotonic()
        self._pending = None
        self.session.set_snapshot(self.typeahead.weights_to_show(snapshot))
        self._show_predictions()
        self.typeahead.ask_suggestions()

    def _complete(self, value: str) -> str:
        """The suggester's question: the completion of `value`, which the session already holds
        (the input hands every new value to `_text_changed` first). Cached for the current
        weights: the suggester and a new snapshot both ask."""
        if to_model_text(value) != self.session.text:
            return ""  # a stale question: the input has changed since (it ignores the answer too)
        key = (value, self.generation, self._snapshot_step)
        if self._completion[0] != key:
            self._completion = (key, printable_prefix(self.session.completion()))
        return self._completion[1]

    def _text_changed(self, value: str) -> None:
        self._last_key = time.monotonic()
        old = self.session.text
        self.session.set_text(to_model_text(value))
        self._show_predictions()
        self.typeahead.text_changed(old, self.session.text)

    def _show_predictions(self) -> None:
        s = self.session
        self.typeahead.show()
        self.query_one("#net-chart", ProbChart).show(s.top_k(self.top_k), s.context)
        if self.show_baseline:
            self.query_one("#base-chart", ProbChart).show(
                s.baseline_top_k(self.top_k), s.context, note=self.baseline_note
            )
        self._show_side()

    def _show_side(self) -> None:
        """'Your typing' and the hidden strip: now, or at the end of the current SIDE_INTERVAL."""
        wait = self._side_shown + SIDE_INTERVAL - time.monotonic()
        if wait > 0:
            if self._side_timer is None:
                self._side_timer = self.set_timer(wait, self._flush_side)
            return
        self._side_shown = time.monotonic()
        s = self.session
        self.query_one("#typing", TypingPanel).show(
            s.stats, s.last_unknown, self.typeahead.typing_lines()
        )
        self.query_one("#hidden", HiddenStrip).show(s.hidden())

    def _flush_side(self) -> None:
        self._side_timer = None
        if self.is_running:
            self._show_side()

    def _tick_sample(self, force: bool = False) -> None:
        """A new sample every few seconds while training, or when the text or settings changed."""
        if not self.is_running or self.session.predictor is None:
            return
        key = (self.session.context, self._snapshot_step, self.temperature, self.generation)
        if not force and self.run_state != RunState.TRAINING and key == self._sample_key:
            return
        self._sample_key = key
        text = self.session.sample(SAMPLE_CHARS, self.temperature, seed=self._snapshot_step)
        self.query_one("#sample", SampleLine).show(
            self.session.context[-40:], text, self.temperature
        )

    def _show_training(self) -> None:
        self.query_one("#status", StatusLine).show(
            self.corpus,
            self.model_config,
            self.run_state,
            self.progress,
            demo=self.demo_running,
            workers=self.worker_count,
        )
        self.query_one("#loss", LossPanel).show(
            self.progress, self.baseline_bpc, self.baseline_note
        )
        if self.run_state != self._shown_state:  # the footer is rebuilt on a bindings refresh
            self._shown_state = self.run_state
            self.main_screen.show_state(self.run_state)
            self.refresh_bindings()

    # -- the demo (attract mode) --------------------------------------------------------------
    @property
    def demo_running(self) -> bool:
        return self._demo_timer is not None

    def _demo_tick(self) -> None:
        if self.demo_script is None:
            return
        action = self.demo_script.step(time.monotonic())
        if action is None:
            return
        prompt = self.query_one("#prompt", Prompt)
        if action == CLEAR:
            prompt.value = ""
        else:
            prompt.value += to_input_text(action)
            prompt.cursor_position = len(prompt.value)

    def stop_demo(self) -> None:
        """The person takes over: the demo's text goes, their key or click then acts as usual."""
        if self._demo_timer is None:
            return
        self._demo_timer.stop()
        self._demo_timer = None
        self.query_one("#prompt", Prompt).value = ""
        self._show_training()
        self.notify("demo stopped: your turn, type anything", title="demo")

    async def on_event(self, event: events.Event) -> None:
        if self._demo_timer is not None and isinstance(
            event, (events.Key, events.MouseDown, events.Paste)
        ):
            self.stop_demo()
        await super().on_event(event)

    # -- commands ----------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        if self.trainer is None or self.run_state == RunState.ERROR:
            self.notify("training has stopped with an error: r resets", severity="warning")
            return
        self.paused = not self.paused
        if self.paused:
            self.trainer.pause()
        else:
            self.trainer.resume()
        self.run_state = RunState.PAUSED if self.paused else RunState.TRAINING
        self._show_training()

    def action_lessons(self) -> None:
        """The lessons screen; the main training pauses meanwhile (two cores, two trainers)."""
        from rnn_tui.app.lessons.screen import LessonsScreen

        if self.showing(LessonsScreen):
            return
        resume = self.trainer is not None and not self.paused and self.run_state != RunState.ERROR
        if resume:
            self.action_toggle_pause()

        def back(_result=None) -> None:
            if resume and self.paused and self.run_state == RunState.PAUSED:
                self.action_toggle_pause()

        self.push_screen(LessonsScreen(), back)

    def action_chart(self) -> None:
        from rnn_tui.app.screens.chart import ChartScreen

        if self.showing(ChartScreen):
            return

        def source():
            name = (
                self.baseline_note.removesuffix(" KN")
                if self.baseline_bpc is not None
                else "n-gram"
            )
            return self.progress, self.baseline_bpc, name

        self.push_screen(ChartScreen(source))

    def action_neurons(self) -> None:
        from rnn_tui.app.screens.neurons import NeuronsScreen, TextSources
        from rnn_tui.lab.evaluate import held_out_text

        if self.showing(NeuronsScreen):
            return
        s = self.session
        self.push_screen(
            NeuronsScreen(
                TextSources(
                    snapshot=lambda: s.predictor.snapshot if s.predictor is not None else None,
                    held_out=lambda n: held_out_text(
                        self.corpus, self.train_config.val_fraction, n
                    ),
                    typed=lambda: s.text,
                    sample=lambda n: (
                        s.sample(n, self.temperature, seed=0) if s.predictor is not None else ""
                    ),
                )
            )
        )

    def action_step(self) -> None:
        if self.run_state != RunState.PAUSED:
            self.notify("single steps work while paused: pause first", severity="information")
            return
        if self.trainer is not None:
            self.trainer.step_once()

    def action_reset(self) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self._start(self.corpus, self.model_config, self.train_config, None, self.preset)
                self.notify("model reset to fresh weights")

        self.push_screen(
            ConfirmScreen(
                "Reset the model to fresh weights?\nWhat it has learnt is lost "
                "unless you saved it.",
                yes="Reset",
            ),
            answer,
        )

    def action_toggle_baseline(self) -> None:
        self.show_baseline = not self.show_baseline
        self.query_one("#charts").set_class(self.show_baseline, "-baseline")
        self._show_predictions()

    def action_settings(self) -> None:
        self.setup.settings()

    def action_save(self) -> None:
        self.setup.save()

    def action_load(self) -> None:
        self.setup.load()

    def action_zen(self) -> None:
        self.setup.zen()

    def on_setup_ready(self, message: SetupReady) -> None:
        self.setup.setup_ready(message)

    def on_checkpoint_ready(self, message: CheckpointReady) -> None:
        self.setup.checkpoint_ready(message)

    def on_saved(self, message: Saved) -> None:
        self.notify(f"saved {message.path} (step {message.step})")

    def action_help(self) -> None:
        if not self.showing(HelpScreen):
            self.push_screen(HelpScreen())

    def notify(self, message: str, *, markup: bool = False, **options) -> None:
        """Always plain text: messages quote paths, typed text and errors, where "[" is no markup
        (a path like notes[/old].npz would stop the app with a MarkupError)."""
        super().notify(message, markup=False, **options)

    def action_command_palette(self) -> None:
        """Not over a dialog: a command run from there would open its screen on top of a question
        still waiting for its answer."""
        if isinstance(self.screen, (ConfirmScreen, PathScreen, SettingsScreen, HelpScreen)):
            self.notify("close this first (Escape), then ^p", severity="information", timeout=2)
            return
        super().action_command_palette()

    def showing(self, screen: type[Screen]) -> bool:
        """Whether a screen of this kind is the one on top: the palette offers every command on
        every screen, and a second copy on top of the first would need Escape twice."""
        return isinstance(self.screen, screen)

    def action_focus_input(self) -> None:
        self.query_one("#prompt").focus()

    def action_leave_input(self) -> None:
        self.screen.set_focus(None)

    # -- type-ahead: the keys and messages go to the app's TypeAhead --------------------------------
    def on_adapted_ready(self, message: AdaptedReady) -> None:
        self.typeahead.adapted_ready(message)

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        self.typeahead.suggestions_ready(message)

    def action_toggle_adapt(self) -> None:
        self.typeahead.toggle_adapt()

    def action_reset_adapt(self) -> None:
        self.typeahead.reset_adapt()

    def action_cycle_model(self) -> None:
        self.typeahead.cycle_model()

    def action_accept_suggestion(self, n: int) -> None:
        self.typeahead.accept_suggestion(n)

    async def action_quit(self) -> None:
        """Stop the training at once (the process notices within a step) and leave."""
        if self._train_worker is not None:
            self._train_worker.cancel()
        self.typeahead.stop()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            # Textual's key panel and maximised widgets squeeze or hide this layout at 80x24, and
            # its screenshot goes to a Downloads folder that may not exist: ours, below.
            if command.title not in ("Keys", "Maximize", "Minimize", "Screenshot"):
                yield command
        yield SystemCommand(
            "Screenshot",
            "Save an SVG picture of the screen in the current folder (a browser downloads it)",
            lambda: self.set_timer(0.1, lambda: self.deliver_screenshot(path=str(Path.cwd()))),
        )
        from rnn_tui.app.lessons.screen import LessonsScreen

        if isinstance(screen, LessonsScreen):
            return  # its own keys: the main training's commands would act behind the lesson
        for c in COMMANDS:
            if c.action != "quit":  # Textual's own "Quit" is there already
                keys = f"key {key_display(c.key)} · while typing {key_display(c.ctrl)}"
                yield SystemCommand(c.help, keys, getattr(self, f"action_{c.action}"))
