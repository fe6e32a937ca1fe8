"""`python -m rnn_tui` does what the `rnn-tui` command does."""

from rnn_tui.cli.main import main

raise SystemExit(main())
