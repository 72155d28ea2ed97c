"""`cpq preview` command lines read without Typer (cli/direct.py) mean what Typer reads them as."""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq_cli.cli import direct, preview_run
from tests.conftest import ROOT
from tests.helpers import installed_cpq

DEFAULTS = {name: p.default for name, p in inspect.signature(preview_run.run).parameters.items()
            if p.default is not inspect.Parameter.empty}

# Words a preview command line is made of, the usual and the odd: values Typer refuses, spellings
# the direct reader leaves to Typer, words of other commands and options of the root.
WORDS = ["q.json", "quotes", "a b", "", "-", "--", "-e", "--explain", "--explain=1", "-f", "--format", "--format=json",
         "--format=", "-fjson", "-f=json", "json", "text", "mermaid", "JSON", "--json", "--json=1", "--policies",
         "--policies=p", "p", "--fail-on", "--fail-on=never", "approval_required", "never", "--jobs", "--jobs=3", "-j",
         "-j3", "-j=3", "2", "0", "007", "-1", "+3", "3_0", "\u0663", " 4", "--journal", "j.sqlite",
         "postgresql://u@h/db", "--help", "-h", "--debug", "--lang", "--lang=de", "de", "--bogus", "-x", "-ej",
         "preview", "rules", "--version"]


def typer_call(args: list[str]) -> dict[str, Any] | None:
    """What the Typer app passes preview_run.run for `args`, or None when it does not run it."""
    from cpq_cli.cli import app

    calls: list[dict[str, Any]] = []

    def record(quotes: list[str], **options: Any) -> int:
        calls.append({"quotes": list(quotes), **options})
        return 0

    with mock.patch("cpq_cli.cli.preview_cmd.run", record), mock.patch("sys.stdout", io.StringIO()), \
            mock.patch("sys.stderr", io.StringIO()):
        app.run(list(args))
    return calls[0] if calls else None


def direct_call(args: list[str]) -> dict[str, Any] | None:
    call = direct.preview_call(args, os.environ)
    return None if call is None else {**DEFAULTS, **call}


ENVIRONMENTS = st.fixed_dictionaries({}, optional={"CPQ_POLICIES": st.sampled_from(["", "envp"]),
                                                   "CPQ_JOURNAL": st.sampled_from(["", "env.sqlite"])})


@settings(max_examples=600)
@given(words=st.lists(st.sampled_from(WORDS), max_size=7), lead=st.booleans(), env=ENVIRONMENTS)
def test_a_line_read_directly_is_read_as_typer_reads_it(words: list[str], lead: bool, env: dict[str, str]) -> None:
    args = ["preview", *words] if lead else words
    with mock.patch.dict(os.environ, env):
        ours = direct_call(args)
        if ours is not None:  # what it declines, Typer runs as before
            assert typer_call(args) == ours, args


COMMON = [
    ["preview", "quotes"],
    ["preview", "quotes", "--format", "json"],
    ["preview", "quotes", "--format=json", "--policies", "policies"],
    ["preview", "-f", "mermaid", "q.json", "--explain"],
    ["preview", "q.json", "-e", "--json"],
    ["preview", "a.json", "b.json", "--jobs", "2", "--fail-on", "approval_required"],
    ["preview", "quotes", "-j", "0", "--journal", "j.sqlite", "--policies=p"],
    ["preview", "quotes", "--format", "text", "--format", "json"],  # the last one, as Click takes it
]


@pytest.mark.parametrize("args", COMMON, ids=" ".join)
def test_the_common_lines_are_read_directly_and_alike(args: list[str]) -> None:
    ours = direct_call(args)
    assert ours is not None
    assert typer_call(args) == ours


@pytest.mark.parametrize("args", [
    ["preview"], ["preview", "--help"], ["preview", "q", "-fjson"], ["preview", "q", "--"], ["--debug", "preview", "q"],
    ["preview", "q", "--lang", "de"], ["preview", "q", "--format", "yaml"], ["preview", "q", "--jobs", "-1"],
    ["preview", "q", "--json", "--format", "text"], ["preview", "q", "--policies"], ["rules"], [],
], ids=lambda a: " ".join(a) or "nothing")
def test_what_it_does_not_know_goes_to_typer(args: list[str]) -> None:
    assert direct.preview_call(args, {}) is None


@pytest.mark.parametrize("variable", ["_CPQ_COMPLETE", "CPQ_DEBUG"])
def test_completion_and_debug_go_to_typer(variable: str) -> None:
    assert direct.preview_call(["preview", "q"], {variable: "1"}) is None


def _cpq(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_"))}
    environment.update(env, CPQ_CACHE_DIR=os.environ["CPQ_CACHE_DIR"])
    return subprocess.run([installed_cpq(), *args], cwd=cwd, capture_output=True, text=True, env=environment,
                          timeout=120)


@pytest.mark.parametrize("args", [
    ["examples/quotes", "--format", "json"],
    ["examples/quotes"],
    ["examples/quotes/Q-1003-every-tier.json", "--explain"],
    ["examples/quotes/Q-1003-every-tier.json", "--json"],
    ["examples/quotes", "--fail-on", "approval_required", "-f", "mermaid"],
    ["examples/quotes/nothing-here.json"],
    ["examples/quotes", "--policies", "no-such-folder"],
    ["bad.json", "--format", "json"],
], ids=" ".join)
def test_the_executable_says_the_same_either_way(args: list[str], tmp_path: Path) -> None:
    """The installed `cpq`, its direct route against Typer's (CPQ_DEBUG=0 sends the line to Typer
    and changes nothing else): output, errors and exit code alike."""
    (tmp_path / "bad.json").write_text('{"id": "Q-9", "lines": [}', encoding="utf-8")
    for name in ("policies", "examples"):
        os.symlink(ROOT / name, tmp_path / name)
    (tmp_path / "cpq.toml").write_text((ROOT / "cpq.toml").read_text(encoding="utf-8"), encoding="utf-8")
    fast = _cpq("preview", *args, cwd=tmp_path)
    typer = _cpq("preview", *args, cwd=tmp_path, CPQ_DEBUG="0")
    assert (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr)
    assert fast.stdout or fast.stderr


def test_a_preview_read_directly_never_imports_typer(tmp_path: Path) -> None:
    code = ("import sys; from cpq_cli.cli.main import main\n"
            "try:\n    main(['preview', 'examples/quotes', '--format', 'json'])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, file=sys.stderr)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CPQ_CACHE_DIR": str(tmp_path)})
    assert done.stderr.strip().splitlines()[-2:] == ["exit 0", "[]"], done.stderr
    assert done.stdout.count('"quote"') == len(list((ROOT / "examples" / "quotes").glob("*.json")))
