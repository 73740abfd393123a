"""Adapters that bring other libraries' environments under our API (gymnax needs none: it is our API)."""
