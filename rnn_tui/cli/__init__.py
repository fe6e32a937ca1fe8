"""The `rnn-tui` command: argument parsing and one module per command group.

`main` builds the parser and dispatches; `lab` holds eval and compare, `series` the regression
lessons, `bench` the benchmarks and their report (`startup` times the app's first frame), `serve`
the browser front end. The top layer beside the app: it may import everything
below it and starts the app; nothing imports it.
"""
