"""How long each connector call of a turn took, for the turn's record (issue 14's bench).

:class:`TimedConnector` wraps the business's connector for one call: every awaited call is
timed and kept until the dialog takes the list into the turn's ``policy_events`` as
``{"event": "connector_call", "op": ..., "seconds": ...}``. Anything else is passed through
unchanged, so the wrapper is invisible to the booking code and to tests' fakes.
"""

from __future__ import annotations

import time
from typing import Any

from connectors.base import Connector

_TIMED = ("list_free_slots", "book", "cancel", "reschedule", "find_bookings", "health_check")


class TimedConnector:
    def __init__(self, inner: Connector) -> None:
        self._inner = inner
        self._timings: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in _TIMED:
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self._timings.append({"event": "connector_call", "op": name,
                                      "seconds": round(time.perf_counter() - t0, 4)})

        return timed

    def take_timings(self) -> list[dict[str, Any]]:
        """The calls timed since the last take, oldest first; the list is emptied."""
        taken, self._timings = self._timings, []
        return taken
