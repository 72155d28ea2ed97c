"""Loading a policy set for commands that act on it: it must lint clean; the result is cached.

The cache maps the policy files' content hash to the built model, so that a command such as
`cpq preview` need not import YAML or JSON Schema at all when nothing changed. It lives in
the user's cache directory (`CPQ_CACHE_DIR`, else `$XDG_CACHE_HOME/cpq`, else `~/.cache/cpq`);
`CPQ_NO_CACHE=1` turns it off. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from cpq_cli import __version__
from cpq_cli.diagnostics import Severity
from cpq_cli.errors import PolicyError
from cpq_cli.policy.load import discover, read_files
from cpq_cli.policy.model import Policy


def cache_dir() -> Path | None:
    if os.environ.get("CPQ_NO_CACHE"):
        return None
    if os.environ.get("CPQ_CACHE_DIR"):
        return Path(os.environ["CPQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cpq"


def _cache_key(root: Path, content_hash: str) -> str:
    # Findings and origins hold paths as shown from the working directory, so both are in the key.
    ident = f"{__version__}\0{root.resolve()}\0{Path.cwd()}\0{content_hash}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _read_cache(key: str) -> Policy | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        with (directory / f"policy-{key}.pickle").open("rb") as fh:
            policy = pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return policy if isinstance(policy, Policy) else None


def _write_cache(key: str, policy: Policy) -> None:
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".policy-{key}.{os.getpid()}.tmp"
        with tmp.open("wb") as fh:
            pickle.dump(policy, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / f"policy-{key}.pickle")
    except OSError:
        return


def load_policy(root: Path, *, use_cache: bool = True) -> Policy:
    """The policy set at `root`, or PolicyError naming the first error and how many there are."""
    paths = discover(root)
    if not paths:
        raise PolicyError(f"no policy files (*.yaml, *.yml, *.toml) in {root}",
                          hint="point --policies at your policy directory")
    _, content_hash = read_files(root, paths)
    key = _cache_key(root, content_hash)
    if use_cache:
        cached = _read_cache(key)
        if cached is not None:
            return cached
    from cpq_cli.lint import lint_policy_set
    from cpq_cli.policy.load import load_policy_set

    pset = load_policy_set(root, paths)
    errors = sorted((d for d in lint_policy_set(pset) if d.severity is Severity.ERROR),
                    key=lambda d: (d.file, d.line or 0))
    if errors:
        first = errors[0]
        where = f"{first.file}:{first.line}" if first.line else first.file
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(f"policy set has errors: {where}: {first.message}{more}",
                          hint=f"run `cpq lint {pset.policy.root}`")
    if use_cache:
        _write_cache(key, pset.policy)
    return pset.policy
