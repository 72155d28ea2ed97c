"""`cpq serve`: the approvers' web inbox."""

from pathlib import Path

import typer

from cpq_cli.cli.options import JOURNAL, POLICIES, context
from cpq_cli.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("serve", help=serve.__doc__)(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on (keep 127.0.0.1 behind a "
                                                         "reverse proxy)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="The port to listen on."),
    journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Serve the approvers' web inbox: sign-in by link from the request e-mails, the approval page
    (the quote as submitted, the approval path with reasons, what changed), approve or reject, a
    quote's status and history — in each approver's language, on a phone or a desktop.

    Needs the team's secret key (CPQ_SECRET_FILE or secret_file), which signs the links and
    sessions, and the `web` extra (pip install "cpq-approvals[web]"). Set `[web] url` in cpq.toml to
    the address people reach it at, so that request e-mails carry the link. Decisions land in the
    journal as `cpq approve` makes them, with the channel `web`.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("cpq serve needs the web extra", hint="pip install 'cpq-approvals[web]'") from None
    from cpq_cli.secret import load_secret
    from cpq_cli.services.web import web_settings
    from cpq_cli.web.app import WebConfig, run

    ctx = context(journal=journal, policies=policies)
    settings = web_settings(ctx.config.sections)
    key = load_secret("the web inbox (it signs the sign-in links and sessions)")
    ctx.policy  # a policy set with errors stops here, not at the first page  # noqa: B018
    run(WebConfig(key, settings, journal, policies), host, port)
