"""Documents that must not drift from their source."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_data_statement_matches_the_source() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- data-statement:start[^>]*-->\n(.*?)<!-- data-statement:end -->", readme, re.S)
    assert match, "README lost its data-statement markers"
    assert match.group(1) == (ROOT / "bot" / "data" / "data_statement.md").read_text(encoding="utf-8")


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", setup, re.S)
    assert block
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("python -m bot run")
    # .ci/run reads the test command from the README: run its own extraction and compare.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    extraction = next(line for line in ci.splitlines() if line.startswith("readme_tests="))
    extracted = subprocess.run(["bash", "-c", f'{extraction}; printf %s "$readme_tests"'], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert extracted == commands[1]
    assert 'bash -euo pipefail -c "$readme_tests"' in ci.splitlines()


def test_invite_permissions_integer_matches_spec_permissions() -> None:
    import discord

    perms = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True,
                                add_reactions=True, read_message_history=True, manage_events=True, create_events=True)
    assert f"**{perms.value}**" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_data_statement_fits_in_an_embed() -> None:
    # /privacy info shows it as an embed description, which Discord caps at 4096 characters.
    assert len((ROOT / "bot" / "data" / "data_statement.md").read_text(encoding="utf-8")) <= 4096


def test_readme_says_how_to_use_the_venv_before_its_first_bare_python_command() -> None:
    # The set-up commands call .venv/bin/python; later ones say `python -m bot …`, which only
    # works in a shell where the venv is active, so the README must say how before the first.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.index("## Set up")
    block_end = readme.index("```", readme.index("```sh", setup) + 5)
    rest = readme[block_end:]
    first_bare = re.search(r"(?<![/\w])python -m bot", rest)
    activation = re.search(r"(?:source|\.) \.venv/bin/activate", rest)
    assert first_bare is not None
    assert activation is not None and activation.start() < first_bare.start(), (
        "README uses `python -m bot` before saying to activate the venv")


def _tracked_text_files() -> list[Path]:
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    return [ROOT / name for name in listed
            if name.endswith((".md", ".toml", ".py", ".sql", ".sh")) and (ROOT / name).is_file()]


def test_nothing_points_outside_the_repository() -> None:
    # A clone has no ../shared or /work: what the docs rely on is kept under docs/.
    outside = re.compile(r"(?:\.\./shared/|/work/|(?<![\w/.])shared/reference/)[\w./-]*")
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in _tracked_text_files()
             for match in outside.finditer(path.read_text(encoding="utf-8"))
             if path != Path(__file__)]
    assert not found, found


def test_documents_named_in_the_docs_exist() -> None:
    named = re.compile(r"(?<![\w/.<-])((?:\.\./)?[\w.-]+(?:/[\w.-]+)+\.(?:md|toml))\b")
    missing = []
    for doc in (ROOT / "README.md", ROOT / "tests" / "README.md", ROOT / "bench" / "README.md",
                *(ROOT / "docs").glob("*.md")):
        for match in named.finditer(doc.read_text(encoding="utf-8")):
            target = match.group(1)
            inside = [c for c in ((doc.parent / target).resolve(), (ROOT / target).resolve()) if c.is_relative_to(ROOT)]
            if not any(c.exists() for c in inside):
                missing.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not missing, missing
    for name in ("SPEC.md", "DESIGN.md", "reference/crisis_guidance.md", "reference/crisis_resources.reference.toml"):
        assert (ROOT / "docs" / name).is_file(), name


def test_the_licence_file_is_the_one_pyproject_declares() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]["text"]
    assert declared == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text
