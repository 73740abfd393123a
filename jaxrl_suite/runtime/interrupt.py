"""Ctrl-C at a safe point: the first SIGINT asks the loop to stop after the chunk in flight, the second aborts.

A compiled chunk cannot be interrupted halfway anyway (Python sees the signal only when the device call
returns), so deferring the first Ctrl-C to the chunk boundary costs no latency and lets state, metrics and
checkpoint advance together.
"""

from __future__ import annotations

import signal
import sys
import threading


class StopRequest:
    """Context manager installing the SIGINT handler (main thread only; elsewhere it only holds the flag)."""

    def __init__(self, quiet: bool = False):
        self.requested = False
        self.quiet = quiet
        self._previous = None

    def request(self) -> None:
        self.requested = True

    def _handler(self, signum, frame) -> None:
        if self.requested:  # second Ctrl-C: abort now (the loop still saves its last consistent state)
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self.requested = True
        if not self.quiet:
            print(
                "\nCtrl-C: stopping after the chunk in progress and saving (press Ctrl-C again to abort now)",
                file=sys.stderr,
            )

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # e.g. an embedded interpreter that owns its signals
                self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
            signal.signal(signal.SIGINT, self._previous)
        self._previous = None
