"""Benchmarks: taskq against a plain baseline, measured in the same run.

Run them all with ``bash scripts/bench.sh`` (see `benchmarks.run`). They are not tests: the
figures go to the README and the notes, not into asserts.
"""
