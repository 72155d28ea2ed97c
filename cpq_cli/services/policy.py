"""Loading a policy set for commands that act on it: it must lint clean; the result is cached.

The cache maps the policy files' names, sizes and modification times to the built model, so
that a command such as `cpq preview` need not import YAML or JSON Schema at all when nothing
changed (the same invalidation rule mypy and pytest use for their caches). It lives in
the user's cache directory (`CPQ_CACHE_DIR`, else `$XDG_CACHE_HOME/cpq`, else `~/.cache/cpq`);
`CPQ_NO_CACHE=1` turns it off. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path

from cpq_cli import __version__
from cpq_cli.errors import PolicyError
from cpq_cli.policy.files import discover, fingerprint
from cpq_cli.policy.model import Policy


def cache_dir() -> Path | None:
    if os.environ.get("CPQ_NO_CACHE"):
        return None
    if os.environ.get("CPQ_CACHE_DIR"):
        return Path(os.environ["CPQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cpq"


def _cache_key(root: Path, stamp: str) -> str:
    # Findings and origins hold paths as shown from the working directory, so both are in the key.
    return f"{__version__}\0{root.resolve()}\0{Path.cwd()}\0{stamp}"


def _cache_file(directory: Path, key: str) -> Path:
    return directory / f"policy-{zlib.crc32(key.encode()):08x}.pickle"


def _read_cache(key: str) -> Policy | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        with _cache_file(directory, key).open("rb") as fh:
            stored_key, policy = pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    # The file name is a short checksum; the full key inside decides.
    return policy if stored_key == key and isinstance(policy, Policy) else None


def _write_cache(key: str, policy: Policy) -> None:
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = _cache_file(directory, key)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((key, policy), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        return


def load_policy(root: Path, *, use_cache: bool = True) -> Policy:
    """The policy set at `root`, or PolicyError naming the first error and how many there are."""
    paths = discover(root)
    if not paths:
        raise PolicyError(f"no policy files (*.yaml, *.yml, *.toml) in {root}",
                          hint="point --policies at your policy directory")
    key = _cache_key(root, fingerprint(root, paths))
    if use_cache:
        cached = _read_cache(key)
        if cached is not None:
            return cached
    from cpq_cli.diagnostics import Severity
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
