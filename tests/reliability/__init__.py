"""Reliability: the contract's invariants under load, faults, crashes and bad input.

The short versions run in `make test`; `python -m tests.reliability` runs the long soak.
"""
