"""The team's secret key: outside the policy repository and the journal, read only when needed.

It keys e-mail reply secrets (an HMAC per item and approver) and, when present, the journal's
hash chain, so that neither a reply nor a recomputed chain can be forged by someone who can
read the repository, the webhook channel or the journal but not the key.

Where it comes from: `CPQ_SECRET_FILE`, else `secret_file` in cpq.toml (relative to it).
The file holds at least 32 bytes of any content (`head -c 32 /dev/urandom > FILE`).
A missing key where one is required is a setup error, never an unsigned fallback.
"""

from __future__ import annotations

import os
from pathlib import Path

from cpq_cli.digest import hmac_sha256_hex
from cpq_cli.digest import same as compare
from cpq_cli.errors import ConfigError

MIN_BYTES = 32
ENV = "CPQ_SECRET_FILE"


def secret_path() -> Path | None:
    """The configured key file, or None when none is configured."""
    chosen = os.environ.get(ENV)
    if chosen:
        return Path(chosen)
    from cpq_cli.config import load_config

    config = load_config()
    return config.secret_file


def load_secret(purpose: str) -> bytes:
    """The key, or a ConfigError naming `purpose` (what needed it) and how to set one up."""
    path = secret_path()
    if path is None:
        raise ConfigError(f"{purpose} needs the team's secret key, and none is configured",
                          hint=f"create a file of at least {MIN_BYTES} random bytes outside the repository "
                               f"(head -c 32 /dev/urandom > FILE) and set {ENV}=FILE or secret_file in cpq.toml")
    return read_secret(path, purpose)


def optional_secret() -> bytes | None:
    """The key when one is configured (and readable), else None."""
    path = secret_path()
    return None if path is None else read_secret(path, "the journal")


def read_secret(path: Path, purpose: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{purpose}: cannot read the secret key file {path}: {exc.strerror}",
                          hint=f"check {ENV} or secret_file in cpq.toml") from None
    if len(data) < MIN_BYTES:
        raise ConfigError(f"{purpose}: the secret key file {path} holds {len(data)} bytes; at least {MIN_BYTES} "
                          "are needed", hint="head -c 32 /dev/urandom > FILE")
    return data


def mac(key: bytes, *parts: str) -> str:
    """Hex HMAC-SHA256 over the parts, each length-prefixed so that no two part lists collide."""
    message = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hmac_sha256_hex(key, message)


def same(a: str, b: str) -> bool:
    return compare(a, b)
