"""Who is acting: --as, else CPQ_USER, else the git config e-mail mapped to a policy user."""

from __future__ import annotations

import os

from cpq_cli.errors import InputError
from cpq_cli.i18n import Text, t
from cpq_cli.policy.model import Policy


def git_email() -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    email = done.stdout.strip()
    return email or None


def resolve_actor(policy: Policy, option: str | None) -> str:
    """A user id of the policy set, or InputError (exit 1) saying how to say who you are."""
    if option:
        chosen, source = option, "--as"
    elif os.environ.get("CPQ_USER"):
        chosen, source = os.environ["CPQ_USER"], "CPQ_USER"
    else:
        email = git_email()
        if email is None:
            raise InputError(t("who are you? no --as, no CPQ_USER and no git user.email"),
                             hint=t("pass --as USER or set CPQ_USER"))
        matches = [u.id for u in policy.users.values() if u.email.lower() == email.lower()]
        if len(matches) != 1:
            problem = (t("git user.email {email} matches no policy user", email=email) if not matches else
                       t("git user.email {email} matches several users ({users})", email=email,
                         users=", ".join(matches)))
            raise InputError(problem, hint=t("pass --as USER or set CPQ_USER"))
        return matches[0]
    if chosen not in policy.users:
        import difflib

        by_lower = {u.lower(): u for u in policy.users}
        close = [by_lower[c] for c in difflib.get_close_matches(chosen.lower(), list(by_lower), n=1, cutoff=0.5)]
        hint: Text = t("users are defined in the policy set")
        if close:
            hint = (t("did you mean {user!r}? (ids are case-sensitive)", user=close[0])
                    if close[0].lower() == chosen.lower() else t("did you mean {user!r}?", user=close[0]))
        raise InputError(t("unknown user {user!r} (from {source})", user=chosen, source=source), hint=hint)
    if not policy.users[chosen].active:
        raise InputError(t("user {user!r} is inactive", user=chosen))
    return chosen
