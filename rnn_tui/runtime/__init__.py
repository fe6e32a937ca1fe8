"""The runtime: running the engine for an interactive front end, without a UI toolkit.

The training process (a child of its own, driven through a typed wire format of JSON and raw
arrays, never pickles), the jobs the app starts off its UI thread, and the prediction session
that follows what the user types. It builds on the engine and the lab; no Textual.
"""
