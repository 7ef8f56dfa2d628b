"""One live connector per business on this worker, rebuilt when its configuration changes.

Remote connectors hold an HTTP connection pool and a circuit breaker, so they are kept across
calls rather than built per call; every lookup reads the config row's ``version`` (one indexed
query) and swaps in a new connector when an admin changed it. A configuration that cannot be
built (a secret that no longer decrypts, a kind removed) does not crash the call: the call gets
a connector that fails every operation with a clear :class:`ConnectorError`, so the dialog
apologises and records a callback intent.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from connectors.base import Booking, Capability, Connector, ConnectorError, Slot
from connectors.registry import BuildContext, build_connector
from connectors.resilience import ConnectOptions, ResilientConnector
from connectors.schedule import Business
from voice_agent.store.connector_configs import resolved_config
from voice_agent.store.secret_box import SecretBox, SecretsUnreadableError

__all__ = ["BrokenConnector", "ConnectorCache", "check_connector", "close_connector"]

log = logging.getLogger(__name__)
CHECK_OPTIONS = ConnectOptions(timeout=8.0, max_retry=0, breaker_failures=1000)


class BrokenConnector:
    """Stands in for a connector whose configuration cannot be built."""

    capabilities: frozenset[Capability] = frozenset()
    kind = "misconfigured"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _fail(self) -> ConnectorError:
        return ConnectorError(f"connector misconfigured: {self.reason}")

    async def list_free_slots(self, *, service: str, start: datetime, end: datetime,
                              staff: str | None = None) -> list[Slot]:
        raise self._fail()

    async def book(self, **_: Any) -> Booking:
        raise self._fail()

    async def cancel(self, booking_id: str) -> Booking:
        raise self._fail()

    async def reschedule(self, booking_id: str, new_start: datetime) -> Booking:
        raise self._fail()

    async def find_bookings(self, *, phone: str | None = None, name: str | None = None
                            ) -> list[Booking]:
        raise self._fail()

    async def health_check(self) -> None:
        raise self._fail()


class ConnectorCache:
    def __init__(self, engine: Engine, box: SecretBox, *,
                 options: ConnectOptions | None = None, transport: Any = None) -> None:
        self.engine = engine
        self.box = box
        self.options = options or ConnectOptions()
        self.transport = transport  # tests: an httpx.MockTransport for remote kinds
        # business -> (the resolved config it was built from, the connector)
        self._live: dict[str, tuple[Any, Connector]] = {}
        self._retired: list[Connector] = []

    def get(self, business: Business) -> Connector:
        try:
            config = resolved_config(self.engine, self.box, business.name)
        except SecretsUnreadableError as exc:
            log.error("connector for %s: %s", business.name, exc)
            return BrokenConnector(str(exc))
        cached = self._live.get(business.name)
        # The whole config, not just its version: a deleted and re-created row starts again
        # at version 1, which a version-only check would mistake for the old configuration.
        if cached is not None and cached[0] == config:
            return cached[1]
        connector = self.build(business, config, options=self.options)
        if cached is not None:  # calls in progress may still use it: closed at shutdown
            self._retired.append(cached[1])
        self._live[business.name] = (config, connector)
        return connector

    def build(self, business: Business, config: tuple[str, dict[str, Any], dict[str, Any], int]
              | None, *, options: ConnectOptions) -> Connector:
        kind, settings, secrets = (config[0], config[1], config[2]) if config else (
            "builtin", {}, {})
        ctx = BuildContext(business=business, engine=self.engine, transport=self.transport)
        try:
            inner = build_connector(kind, ctx, settings, secrets)
        except (ValidationError, ConnectorError, KeyError, ValueError) as exc:
            log.error("connector for %s (%s) cannot be built: %s", business.name, kind,
                      type(exc).__name__)
            return BrokenConnector(f"{kind} configuration is invalid")
        return ResilientConnector(inner, kind=kind, options=options)

    def fresh(self, business: Business, *, options: ConnectOptions) -> Connector:
        """A new, uncached connector (admin test, reconciler) with its own options."""
        try:
            config = resolved_config(self.engine, self.box, business.name)
        except SecretsUnreadableError as exc:
            return BrokenConnector(str(exc))
        return self.build(business, config, options=options)

    def breaker_states(self) -> list[tuple[str, str, str]]:
        """``(business, kind, circuit state)`` of each live connector (for metrics)."""
        return [(name, getattr(c, "kind", "builtin"), c.breaker.state)
                for name, (_, c) in self._live.items() if isinstance(c, ResilientConnector)]

    async def aclose(self) -> None:
        for connector in [c for _, c in self._live.values()] + self._retired:
            await close_connector(connector)
        self._live.clear()
        self._retired.clear()


async def close_connector(connector: Connector) -> None:
    """Close a connector's HTTP pool, if it has one (the builtin calendar has none)."""
    close = getattr(getattr(connector, "inner", connector), "aclose", None)
    if close is not None:
        await close()


async def check_connector(cache: ConnectorCache, business: Business) -> dict[str, Any]:
    """Health check + one read-only availability query (next 7 days), timed; what the admin
    route and ``voice-agent connectors test`` both report. Never books anything."""
    connector = cache.fresh(business, options=CHECK_OPTIONS)
    kind = getattr(connector, "kind", "builtin")
    report: dict[str, Any] = {"business": business.name, "kind": kind}
    try:
        started = time.perf_counter()
        try:
            await connector.health_check()
            report["health"] = {"ok": True}
        except ConnectorError as exc:
            report["health"] = {"ok": False, "error": exc.message}
        report["health"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
        service = business.services[0]
        now = datetime.now(business.tz)
        window = {"service": service.id, "start": now.isoformat(),
                  "end": (now + timedelta(days=7)).isoformat()}
        started = time.perf_counter()
        try:
            slots = await connector.list_free_slots(
                service=service.id, start=now, end=now + timedelta(days=7))
            report["availability"] = {"ok": True, **window, "free_slots": len(slots),
                                      "first": [s.start.isoformat() for s in slots[:5]]}
        except ConnectorError as exc:
            report["availability"] = {"ok": False, **window, "error": exc.message}
        report["availability"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    finally:
        await close_connector(connector)
    report["ok"] = report["health"]["ok"] and report["availability"]["ok"]
    return report
