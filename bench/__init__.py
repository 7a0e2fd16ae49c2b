"""Omnihub benchmarks: every figure is a ratio against a floor measured in the same run.

Run with ``python -m bench`` (``--quick`` for a smoke run, ``--only NAME`` for one benchmark).
Nothing here is a pass/fail gate: the goal column says where a figure should head, not a limit.
"""
