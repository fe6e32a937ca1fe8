"""The lab: measuring next-character models on text, and the lessons.

The n-gram baseline, metrics (bits per character, top-k accuracy, keystroke savings), evaluation
of any `NextCharModel` on held-out text, the tutorial's presets, how characters are written for
people, and the benchmarks. It builds on the engine only; no Textual.
"""
