"""Time for the emulator's windows and buckets, injectable so tests never sleep."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time in UTC epoch seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time plus an offset that tests can push forward over HTTP."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


class ManualClock:
    """A clock that only moves when told to: exact, repeatable windows in unit tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._start = start
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def reset(self) -> None:
        with self._lock:
            self._now = self._start
