"""Adapters that bring other libraries' environments under our API (gymnax needs none: it is our API; ``make``
wraps a gymnax env only to check action shapes, see ``adapters/gymnax.py``)."""
