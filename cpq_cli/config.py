"""Finding cpq.toml or [tool.cpq] in pyproject.toml by searching upward, and the settings in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from cpq_cli.errors import ConfigError

CONFIG_FILE = "cpq.toml"
KNOWN_KEYS = {
    "policies": "policy directory",
    "journal": "journal location (an SQLite file, or a postgresql:// URL for a team journal)",
    "orders": "directory for order and contract files",
    "secret_file": "the team's secret key file (keep it outside the repository)",
}
SECTIONS = ("smtp", "webhook", "sync", "notify", "impact", "mail", "web")


def journal_location(value: str, source: str, root: Path | None = None) -> Path | str:
    """A journal location: a `postgresql://` URL stays a URL (never a file path), anything else is a path.

    Any other URL scheme (`mysql://`, `sqlite://`, `file:/`) is refused rather than becoming a
    folder named `mysql:` beside the policies.
    """
    import re

    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):/", value)
    if match and len(match.group(1)) > 1:  # not a Windows drive letter
        if match.group(1).lower() in ("postgresql", "postgres"):
            return value
        raise ConfigError(f"{source} {value!r} is a {match.group(1)} URL; a journal is an SQLite file or a "
                          "postgresql:// URL", hint="give a file path, or postgresql://USER@HOST/DATABASE")
    path = Path(value)
    return (root / path).resolve() if root is not None else path


class Config(NamedTuple):
    root: Path  # the directory holding the config file (or the working directory)
    source: Path | None  # the file the settings came from, if any
    policies: Path | None
    journal: Path | str  # a file, or a postgresql:// URL
    orders: Path
    sections: dict[str, dict[str, Any]]
    secret_file: Path | None = None


# One parse per file content: a command asks for its configuration in several places (journal,
# policies, secret key). The bytes are read each time and compared, so an edit is always seen.
_parsed: dict[str, tuple[bytes, dict[str, Any]]] = {}


def _read_toml(path: Path) -> dict[str, Any]:
    import copy
    import tomllib

    try:
        raw = path.read_bytes()
        known = _parsed.get(str(path))
        if known is None or known[0] != raw:
            known = _parsed[str(path)] = (raw, tomllib.loads(raw.decode("utf-8")))
        return copy.deepcopy(known[1])
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def find_config(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The nearest cpq.toml, or pyproject.toml with a [tool.cpq] table, from `start` upward."""
    explicit = os.environ.get("CPQ_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"CPQ_CONFIG points to {explicit}, which is not a file")
        data = _read_toml(path)
        return path, data.get("tool", {}).get("cpq", {}) if path.name == "pyproject.toml" else data
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("cpq")
            if isinstance(table, dict):
                return pyproject, table
    return None


def load_config(start: Path | None = None) -> Config:
    found = find_config(start)
    if found is None:
        root = (start or Path.cwd()).resolve()
        default = root / "policies"
        return Config(root, None, default if default.is_dir() else None,
                      root / ".cpq" / "journal.sqlite3", root / "orders", {})
    source, data = found
    root = source.parent
    sections: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            sections[key] = value
        elif key not in KNOWN_KEYS:
            known = ", ".join([*KNOWN_KEYS, *SECTIONS])
            raise ConfigError(f"{source}: unknown setting {key!r}", hint=f"known settings: {known}")
        elif not isinstance(value, str) or not value:
            raise ConfigError(f"{source}: {key} must be a path string")

    def path_of(key: str, default: str) -> Path:
        return (root / str(data.get(key, default))).resolve()

    journal = journal_location(str(data.get("journal", ".cpq/journal.sqlite3")), f"{source}: journal =", root)
    secret = path_of("secret_file", "") if data.get("secret_file") else None
    return Config(root, source, path_of("policies", "policies"), journal,
                  path_of("orders", "orders"), sections, secret)


def resolve_policy_dir(option: Path | None, start: Path | None = None) -> Path:
    """--policies, then CPQ_POLICIES, then the config file, then ./policies."""
    if option is not None:
        chosen, why = option, "--policies"
    elif os.environ.get("CPQ_POLICIES"):
        chosen, why = Path(os.environ["CPQ_POLICIES"]), "CPQ_POLICIES"
    else:
        config = load_config(start)
        if config.policies is None:
            raise ConfigError("no policy directory found",
                              hint="pass --policies DIR, set CPQ_POLICIES, or create cpq.toml with `cpq init`")
        chosen, why = config.policies, str(config.source or "default ./policies")
    if not chosen.is_dir():
        raise ConfigError(f"policy directory {chosen} (from {why}) does not exist or is not a directory")
    return chosen
