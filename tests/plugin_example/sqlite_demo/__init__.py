"""Example worldline collector plugin (see collector.py)."""
