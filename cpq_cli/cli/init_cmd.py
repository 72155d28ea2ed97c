"""`cpq init`: scaffold a working policy repository."""

from __future__ import annotations

from pathlib import Path

import typer

from cpq_cli.errors import InputError

INIT_HELP = """\
Create a working policy repository in DIR (default: here): cpq.toml, a small policy set with
tests, an example quote, a pre-commit configuration and a GitHub Actions workflow that runs
cpq lint, cpq test and cpq impact. `cpq lint` and `cpq test` pass on the result at once.

Existing files are never overwritten (the command stops and lists them) unless --force.
"""


def register(app: typer.Typer) -> None:
    app.command("init", help=INIT_HELP)(init)


def scaffold_files() -> dict[str, bytes]:
    root = Path(__file__).resolve().parent.parent / "scaffold"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the repository."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that already exist."),
) -> None:
    files = scaffold_files()
    existing = [name for name in files if (directory / name).exists()]
    if existing and not force:
        raise InputError(f"{len(existing)} file(s) already exist in {directory}: {', '.join(existing[:5])}"
                         + (" ..." if len(existing) > 5 else ""), hint="use --force to overwrite them")
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        print(f"created {target.as_posix()}")
    print("next: cd into it, then `cpq lint`, `cpq test`, `cpq preview quotes/Q-0001.json --explain`")
