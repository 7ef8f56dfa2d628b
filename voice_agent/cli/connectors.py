"""``voice-agent connectors list|add|test|remove`` and ``voice-agent outbox reconcile``.

They mirror the admin API (the same store functions: validation, encryption, audit), working
on the database directly, so an operator can configure a business before any server runs.
Secrets are given as ``--secret NAME=VALUE``, ``--secret NAME`` (asked for, not echoed) or
``--secrets-file FILE`` (JSON), and are never printed.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from voice_agent.config import get_settings

connectors_app = typer.Typer(help="Which calendar / CRM each business books into.")
outbox_app = typer.Typer(help="The booking outbox (intents written before the connector call).")
console = Console()

DatabaseUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: settings).")]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _context(database_url: str | None) -> tuple[Any, Any, Any]:
    from connectors.schedule import load_businesses
    from voice_agent.store.db import make_engine, upgrade
    from voice_agent.store.secret_box import secret_box_for

    settings = get_settings()
    engine = make_engine(database_url or settings.db_url)
    upgrade(engine)
    return engine, secret_box_for(settings), load_businesses(settings.businesses_dir)


def _json_option(value: str | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return data


def _secrets(pairs: list[str], secrets_file: Path | None) -> dict[str, Any]:
    secrets = _json_option(f"@{secrets_file}", "--secrets-file") if secrets_file else {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not name:
            raise typer.BadParameter("--secret needs NAME=VALUE or NAME")
        secrets[name] = value if sep else getpass.getpass(f"{name}: ")
    return secrets


def _fail_invalid(exc: Exception) -> None:
    from voice_agent.store.connector_configs import ConnectorConfigError

    if isinstance(exc, ConnectorConfigError):
        for err in exc.errors:
            console.print(f"[red]{'.'.join(str(p) for p in err['loc'])}: {err['msg']}[/red]")
    else:
        console.print(f"[red]{exc}[/red]")
    raise typer.Exit(1)


@connectors_app.command("list")
def connectors_list(database_url: DatabaseUrl = None) -> None:
    """Every business and the connector it uses (secrets shown only as "set")."""
    from voice_agent.store.connector_configs import list_configs

    engine, _, businesses = _context(database_url)
    try:
        rows = {r.business: r for r in list_configs(engine)}
    finally:
        engine.dispose()
    table = Table("business", "kind", "version", "settings", "secrets", "updated by")
    for name in sorted(set(businesses) | set(rows)):
        row = rows.get(name)
        if row is None:
            table.add_row(name, "builtin (default)", "", "", "", "")
            continue
        table.add_row(name, row.kind, str(row.version), json.dumps(row.settings)[:80],
                      ", ".join(row.secret_names), row.updated_by)
    console.print(table)


@connectors_app.command("add")
def connectors_add(
    business: Annotated[str, typer.Argument(help="Business name (as in its YAML).")],
    kind: Annotated[str, typer.Option(help="builtin, caldav, calcom, google_calendar, webhook")],
    settings: Annotated[str | None, typer.Option(help="JSON object, or @file.json")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="NAME=VALUE, or NAME to be asked")
                      ] = None,
    secrets_file: Annotated[Path | None, typer.Option(help="JSON object of secrets")] = None,
    replace: Annotated[bool, typer.Option(help="Update an existing configuration")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Configure (or with --replace, reconfigure) a business's connector."""
    from voice_agent.store import connector_configs as store
    from voice_agent.store.secret_box import SecretsUnreadableError

    engine, box, businesses = _context(database_url)
    try:
        if business not in businesses:
            console.print(f"[red]no business {business!r} (known: {', '.join(businesses)})[/red]")
            raise typer.Exit(1)
        parsed = _json_option(settings, "--settings")
        secrets = _secrets(secret or [], secrets_file)
        try:
            if replace and store.get_config(engine, business) is not None:
                row = store.update_config(engine, box, business=business, actor=_actor(),
                                          kind=kind, settings=parsed, secrets=secrets)
            else:
                row = store.create_config(engine, box, business=business, kind=kind,
                                          settings=parsed, secrets=secrets, actor=_actor())
        except (store.ConnectorConfigError, store.ConfigExistsError,
                SecretsUnreadableError) as exc:
            _fail_invalid(exc)
    finally:
        engine.dispose()
    secrets = f" (secrets: {', '.join(row.secret_names)})" if row.secret_names else ""
    console.print(f"{business}: {row.kind} connector, version {row.version}{secrets}")


@connectors_app.command("test")
def connectors_test(
    business: Annotated[str, typer.Argument(help="Business name.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Health check and a read-only availability query; exit 1 when either fails."""
    from voice_agent.booking.connector_cache import ConnectorCache, check_connector
    from voice_agent.store.review import record_audit

    engine, box, businesses = _context(database_url)
    try:
        if business not in businesses:
            console.print(f"[red]no business {business!r}[/red]")
            raise typer.Exit(1)
        report = asyncio.run(check_connector(ConnectorCache(engine, box), businesses[business]))
        record_audit(engine, actor=_actor(), action="connector.test",
                     target=f"business:{business}", detail={"ok": report["ok"]})
    finally:
        engine.dispose()
    console.print_json(json.dumps(report))
    if not report["ok"]:
        raise typer.Exit(1)


@connectors_app.command("remove")
def connectors_remove(
    business: Annotated[str, typer.Argument(help="Business name.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a business's connector configuration (it falls back to the builtin calendar)."""
    from voice_agent.store import connector_configs as store

    engine, _, _ = _context(database_url)
    try:
        store.delete_config(engine, business=business, actor=_actor())
    except store.ConfigNotFoundError as exc:
        _fail_invalid(exc)
    finally:
        engine.dispose()
    console.print(f"{business}: connector removed (builtin calendar from now on)")


@outbox_app.command("reconcile")
def outbox_reconcile(
    grace_s: Annotated[float, typer.Option(help="Only intents pending this long.")] = 60.0,
    max_attempts: Annotated[int, typer.Option(help="Escalate after this many tries.")] = 5,
    database_url: DatabaseUrl = None,
) -> None:
    """Finish or escalate booking intents left pending (crash, timeout, CRM outage)."""
    from connectors.resilience import ConnectOptions
    from voice_agent.booking.connector_cache import ConnectorCache
    from voice_agent.booking.reconciler import OutboxReconciler

    engine, box, businesses = _context(database_url)
    cache = ConnectorCache(engine, box, options=ConnectOptions.patient())

    async def run() -> Any:
        try:
            reconciler = OutboxReconciler(engine, businesses, cache.get, grace_s=grace_s,
                                          max_attempts=max_attempts)
            return await reconciler.run_once()
        finally:
            await cache.aclose()

    try:
        report = asyncio.run(run())
    finally:
        engine.dispose()
    for outcome in report.outcomes:
        console.print(f"{outcome['intent']} {outcome['action']}: {outcome['outcome']}")
    console.print(f"examined {report.examined}: {report.done} done, {report.escalated} "
                  f"escalated, {report.retry_later} to retry later")


def secret_key() -> None:
    """Print a new Fernet key for VOICE_AGENT_SECRET_KEY (encrypts connector secrets)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())
