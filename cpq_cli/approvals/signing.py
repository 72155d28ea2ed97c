"""Signed decisions: on a shared journal, `--as alice` is not enough; alice's SSH key is.

A policy set that says `settings.require_signed_decisions: true` lists each approver's public
key (`users.alice.signing_key: "ssh-ed25519 AAAA… alice@laptop"`, the line git's
`allowed_signers` uses). `cpq approve/reject/override --sign-key FILE` signs, per item, the
message below with the user's OpenSSH Ed25519 private key; the signature is checked against
the policy's key before anything is written and is kept in the decision's journal event, where
`cpq order` checks it again. The `cryptography` package does the work (the `signing` extra); it
is imported only when a decision is signed or checked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from cpq_cli.errors import ConfigError, InputError

Signer = Callable[[bytes], str]
DOMAIN = "cpq-decision-v1"


def message(item_id: str, quote_hash: str, verdict: str, actor: str) -> bytes:
    """What a signature covers: the item, the exact content approved, the verdict and who."""
    return "\n".join((DOMAIN, item_id, quote_hash, verdict, actor)).encode()


def _crypto() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise ConfigError("signed decisions need the cryptography package",
                          hint="pip install 'cpq-approvals[signing]' (or: pip install cryptography)") from None


def load_signer(path: Path) -> Signer:
    """A function that signs with the OpenSSH Ed25519 private key in `path`."""
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    try:
        key = load_ssh_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"cannot read the signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not an unencrypted OpenSSH private key: {exc}",
                         hint="use an ed25519 key without a passphrase, made with ssh-keygen -t ed25519") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} is not an ed25519 key", hint="ssh-keygen -t ed25519")
    private = key

    def sign(data: bytes) -> str:
        return base64.b64encode(private.sign(data)).decode()

    return sign


def verify(public_line: str, data: bytes, signature: str) -> bool:
    """Does `signature` sign `data` under the public key line (`ssh-ed25519 AAAA… comment`)?"""
    _crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        key = load_ssh_public_key(" ".join(public_line.split()[:2]).encode())
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return False
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(raw, data)
    except InvalidSignature:
        return False
    return True
