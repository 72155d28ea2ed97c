"""Loading a policy set for commands that act on it: it must lint clean; the result is cached.

The cache maps the policy files' names, sizes and modification times to the built model, so
that a command such as `cpq preview` need not import YAML or JSON Schema at all when nothing
changed (the same invalidation rule mypy and pytest use for their caches). It lives in
the user's cache directory (`CPQ_CACHE_DIR`, else `$XDG_CACHE_HOME/cpq`, else `~/.cache/cpq`);
`CPQ_NO_CACHE=1` turns it off. A cache that cannot be read or written is ignored.

Beside it, `compiled_policy` caches the compiled form (conditions, generated routing code and
its bytecode) keyed by the policy model itself: the file holds the model's pickled bytes and is
used only when they equal the model's now, byte for byte, for the same cpq version, Python
bytecode format and routing compiler (the size and modification time of the modules that
generate the code). So an edited policy, another cpq, a changed compiler or a file named alike
by another policy can only miss, never answer; files are written whole and renamed into place,
so two processes writing at once leave one complete file.
"""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from cpq_cli import __version__
from cpq_cli.errors import PolicyError
from cpq_cli.paths import cache_dir
from cpq_cli.policy.files import discover, fingerprint
from cpq_cli.policy.model import Policy

if TYPE_CHECKING:
    from cpq_cli.routing import CompiledPolicy


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


def _compiler_stamp() -> str:
    """What the generated code depends on besides the policy: cpq, the bytecode format, the compiler."""
    import sys

    from cpq_cli import expressions, routing

    parts = [__version__, sys.implementation.cache_tag or "", sys.version]
    for module in (expressions, routing):
        try:
            st = os.stat(module.__file__ or "")
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            return ""  # unknown compiler: never cache
    return "\0".join(parts)


def compiled_policy(policy: Policy, *, use_cache: bool = True) -> CompiledPolicy:
    """compile_policy(policy), from the compiled-policy cache when it holds this very policy."""
    from cpq_cli.routing import CompiledPolicy

    directory = cache_dir() if use_cache else None
    stamp = _compiler_stamp() if directory is not None else ""
    if directory is None or not stamp:
        return CompiledPolicy(policy)
    model = pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL)
    key = stamp.encode() + b"\0" + model
    target = directory / f"compiled-{zlib.crc32(key):08x}.pickle"
    try:
        with target.open("rb") as fh:
            stored_key, frozen = pickle.load(fh)
        if stored_key == key and isinstance(frozen, bytes):
            return CompiledPolicy(policy, frozen)
    except Exception:  # an unreadable or damaged cache file is a miss, whatever broke in it
        pass
    compiled = CompiledPolicy(policy)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((key, compiled.freeze()), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        pass
    return compiled
