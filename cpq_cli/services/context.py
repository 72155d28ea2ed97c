"""The one context a command runs in, built once by its caller (the CLI, a test, a web inbox).

It holds what the command was told — the clock (`--now` or `CPQ_NOW`, read once), where the
journal and the policies are, who says they act — and finds the rest on first use: the
configuration, the lint-clean policy set, the actor's user id. Nothing below the services reads
the environment for these.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cpq_cli.acting import Act, Channel, Clock, env_fault

if TYPE_CHECKING:
    from cpq_cli.config import Config
    from cpq_cli.journal.db import Location
    from cpq_cli.outbound.settings import NotifySettings
    from cpq_cli.policy.model import Policy


class Context:
    """What a command runs with. Attributes are read lazily and then kept for the command's life."""

    def __init__(self, *, clock: Clock | None = None, journal: str | Path | None = None,
                 policies: Path | None = None, as_user: str | None = None, channel: str = Channel.CLI,
                 fault: Callable[[str], None] = env_fault) -> None:
        self.clock = clock or Clock.read()
        self.journal_option = journal
        self.policies_option = policies
        self.as_user = as_user
        self.channel = channel
        self.fault = fault

    @cached_property
    def config(self) -> Config:
        from cpq_cli.config import load_config

        return load_config()

    @cached_property
    def journal(self) -> Location:
        """--journal, then CPQ_JOURNAL, then the config file."""
        from cpq_cli.journal.db import resolve_journal

        return resolve_journal(self.journal_option)

    @cached_property
    def policy_dir(self) -> Path:
        from cpq_cli.config import resolve_policy_dir

        return resolve_policy_dir(self.policies_option)

    @cached_property
    def policy(self) -> Policy:
        """The policy set, which must lint clean (PolicyError otherwise)."""
        from cpq_cli.services.policy import load_policy

        return load_policy(self.policy_dir)

    @cached_property
    def actor(self) -> str:
        """Who acts: --as, else CPQ_USER, else the git e-mail, as a user of the policy set."""
        from cpq_cli import i18n
        from cpq_cli.approvals.identity import resolve_actor

        actor = resolve_actor(self.policy, self.as_user)
        i18n.prefer(self.policy.users[actor].locale)  # their own language, unless the reader chose one
        return actor

    @cached_property
    def notify_settings(self) -> NotifySettings:
        from cpq_cli.outbound.settings import load_settings

        return load_settings(self.config.sections, Path(self.policy.root))

    def act(self, actor: str | None = None, channel: str | None = None) -> Act:
        """The change about to be made: by `actor` (default: the resolved actor), at the command's instant."""
        return Act(self.actor if actor is None else actor, self.clock.now, channel or self.channel, self.fault)

    def system_act(self) -> Act:
        """A change cpq makes on its own (the periodic job), at the command's instant."""
        return Act(Channel.SYSTEM, self.clock.now, Channel.SYSTEM, self.fault)
