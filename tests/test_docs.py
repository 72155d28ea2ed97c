"""The documentation cannot drift from the code: references are regenerated and compared."""

from __future__ import annotations

from pathlib import Path

from cpq_cli import docgen
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_command_reference_is_current() -> None:
    committed = (DOCS / "commands.md").read_text()
    assert committed == docgen.commands_markdown(), "run: python -m cpq_cli.docgen commands > docs/commands.md"


def test_every_command_and_option_is_described() -> None:
    text = (DOCS / "commands.md").read_text()
    for path, command in docgen._commands():
        assert f"## {path}\n" in text, path
        for param in command.params:
            for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if opt.startswith("-") and opt not in ("--help", "-h"):
                    assert f"`{opt}`" in text.split(f"## {path}\n", 1)[1].split("\n## ", 1)[0], (path, opt)


def test_file_format_reference_is_current() -> None:
    committed = (DOCS / "schemas.md").read_text()
    assert committed == docgen.schemas_markdown(), "run: python -m cpq_cli.docgen schemas > docs/schemas.md"


def test_guides_exist_and_link_to_real_commands() -> None:
    import re

    commands = {path for path, _ in docgen._commands()}
    for guide in ("guide-policy-author.md", "guide-sales-rep.md", "guide-approver.md", "guide-order-operations.md",
                  "comparison.md"):
        text = (DOCS / guide).read_text()
        for used in re.findall(r"`(cpq [a-z-]+(?: [a-z-]+)?)", text):
            words = used.split()
            assert " ".join(words[:2]) in commands or used in commands, (guide, used)


def test_readme_links_resolve() -> None:
    import re

    text = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?:docs|schemas|policies)/[^)#]+)", text):
        assert (ROOT / target).exists(), target


def test_docs_are_markdown_files(tmp_path: Path) -> None:
    assert all(p.suffix == ".md" for p in DOCS.iterdir() if p.is_file())
    assert {p.name for p in DOCS.iterdir() if p.is_dir()} <= {"images"}
    assert all(p.suffix == ".png" for p in (DOCS / "images").iterdir())


def test_output_record_reference_is_current() -> None:
    committed = (DOCS / "outputs.md").read_text()
    assert committed == docgen.outputs_markdown(), "run: python -m cpq_cli.docgen outputs > docs/outputs.md"
