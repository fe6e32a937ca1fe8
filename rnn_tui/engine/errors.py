"""The one error type users see: a message they can act on, printed as one `error:` line."""


class RnnTuiError(Exception):
    """A problem with the user's input (a file, an option, a checkpoint); never a bug."""


class CorpusError(RnnTuiError):
    """A corpus that cannot be read or trained on."""


class CheckpointError(RnnTuiError):
    """A checkpoint file that cannot be loaded or saved."""


class ConfigError(RnnTuiError):
    """An option value outside its allowed range."""


class TrainingError(RnnTuiError):
    """Training that cannot go on (a training replica died, failed or stopped answering)."""
