"""The README and docs/ as a user copies from them: code that compiles, names that exist,
commands that parse, links that lead somewhere, experiment snippets the schema accepts.

Fast by default: every fenced Python block compiles and every ``raytune_hpt`` name it
imports (or reaches through ``import raytune_hpt as kt``) exists; every ``raytune-hpt``
command line parses with the command's own parser; every YAML block made of experiment
fields validates; every relative link names a file. The slow part runs each Python and shell
block that is not marked ``<!-- docs-test: not run (reason) -->`` on the line before it, in
a fresh folder, as a real subprocess. Pages that need a cluster throughout are listed in
``WHOLE_PAGE`` with the reason.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON, SHELL, YAML = {"python", "py"}, {"bash", "sh", "shell", "console"}, {"yaml", "yml"}
MARK = re.compile(r"<!-- docs-test: not run \((?P<why>[^)]+)\) -->")
# Pages whose every block needs what this machine has not.
WHOLE_PAGE = {"cluster.md": "needs a Ray cluster, a Jobs API or S3",
              "architecture.md": "diagrams, no code"}
# Links to pages being written on other branches (checked once they exist).
PENDING_LINKS = {"docs/data.md"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    not_run: str | None  # why, when it is not run

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = re.match(r"^```(\w*)", lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        mark = MARK.search(lines[i - 1]) if i else None
        why = mark.group("why") if mark else WHOLE_PAGE.get(page.name)
        if page.name == "README.md" and not blocks:
            why = "the CI contract: .ci/run runs the second line from a clean clone"
        blocks.append(Block(page, i + 1, match.group(1).lower(), "\n".join(lines[i + 1:end]),
                            why))
        i = end + 1
    return blocks


BLOCKS = [b for page in PAGES for b in _blocks(page)]
PY_BLOCKS = [b for b in BLOCKS if b.lang in PYTHON]
SHELL_BLOCKS = [b for b in BLOCKS if b.lang in SHELL]


def _ids(blocks: list[Block]) -> list[str]:
    return [b.id for b in blocks]


# -- Python ------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", PY_BLOCKS, ids=_ids(PY_BLOCKS))
def test_python_blocks_compile(block):
    compile(block.text, block.id, "exec")


def _raytune_names(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, attribute path) for every raytune_hpt name the code imports or reaches."""
    aliases: dict[str, str] = {}
    wanted: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "raytune_hpt":
                    wanted.append((alias.name, []))
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("raytune_hpt"):
            for alias in node.names:
                wanted.append((node.module, [alias.name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            path, base = [], node
            while isinstance(base, ast.Attribute):
                path.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                wanted.append((aliases[base.id], path))
    return wanted


def _resolve(module: str, path: list[str]) -> None:
    target = importlib.import_module(module)
    for i, name in enumerate(path):
        if not hasattr(target, name):
            raise AssertionError(f"{module}.{'.'.join(path[:i + 1])} does not exist")
        target = getattr(target, name)
        if not isinstance(target, type) and not callable(target) and \
                type(target).__name__ != "module":
            return  # a value: its attributes are the value's, not the package's


@pytest.mark.parametrize("block", PY_BLOCKS, ids=_ids(PY_BLOCKS))
def test_the_raytune_hpt_names_a_python_block_uses_exist(block):
    for module, path in _raytune_names(ast.parse(block.text)):
        _resolve(module, path)


# -- shell commands ----------------------------------------------------------------------------


def _commands(block: Block) -> list[list[str]]:
    """Each ``raytune-hpt ...`` line of a shell block as argv (comments and ``$`` dropped)."""
    commands = []
    for line in block.text.splitlines():
        line = line.strip().removeprefix("$ ")
        if not line.startswith("raytune-hpt"):
            continue
        commands.append(shlex.split(line, comments=True))
    return commands


COMMANDS = [(b, argv) for b in SHELL_BLOCKS for argv in _commands(b)]


@pytest.mark.parametrize(("block", "argv"), COMMANDS,
                         ids=[f"{b.id}:{argv[1] if len(argv) > 1 else ''}" for b, argv in COMMANDS])
def test_every_raytune_hpt_command_parses(block, argv, capsys):
    from raytune_hpt.cli._main import build_parser

    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exit_:
        assert exit_.code == 0, f"{block.id}: {' '.join(argv)}: {capsys.readouterr().err}"


# -- experiment-file snippets ------------------------------------------------------------------


def _experiment_snippets() -> list[tuple[Block, dict]]:
    import yaml

    from raytune_hpt.experiment._schema import Experiment

    fields = set(Experiment.model_fields)
    snippets = []
    for block in BLOCKS:
        if block.lang not in YAML or block.page.name in WHOLE_PAGE:
            continue
        try:
            data = yaml.safe_load(block.text)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and data and set(data) <= fields:
            snippets.append((block, data))
    return snippets


SNIPPETS = _experiment_snippets()


@pytest.mark.parametrize(("block", "data"), SNIPPETS, ids=[b.id for b, _ in SNIPPETS])
def test_experiment_snippets_validate(block, data):
    from raytune_hpt.experiment import parse_experiment

    minimal = {"model": "raytune_hpt.examples.digits:build_model", "data": "digits"}
    parse_experiment({**minimal, **data})


# -- links and marks ---------------------------------------------------------------------------


def test_relative_links_lead_to_files():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            relative = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
            if not path.exists() and relative not in PENDING_LINKS:
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_files_the_pages_name_exist():
    """``raytune_hpt/...``, ``scripts/...``, ``tests/...`` and ``cluster/...`` paths in the text."""
    named = re.compile(r"\b(?:raytune_hpt|scripts|tests|cluster)/[\w/.-]+\.(?:py|sh|yaml|md)")
    missing = []
    for page in PAGES:
        for path in set(named.findall(page.read_text())):
            if not (ROOT / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert not missing, missing


def test_blocks_that_need_a_cluster_or_s3_are_marked():
    needs = re.compile(r"s3://|--address|RAY_ADDRESS|address=\"auto\"|\bsubmit\b|\bjobs\b")
    unmarked = [b.id for b in PY_BLOCKS + SHELL_BLOCKS
                if b.not_run is None and needs.search(b.text)]
    assert not unmarked, f"blocks that cannot run here without a reason: {unmarked}"


def test_the_readme_starts_with_the_two_set_up_commands():
    first = _blocks(ROOT / "README.md")[0]
    assert first.line == 3 and first.text.splitlines() == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
        "raytune-hpt run --example digits",
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
        "python -m pytest -q",
    ]


# -- running what can run here -----------------------------------------------------------------

RUN = [b for b in PY_BLOCKS + SHELL_BLOCKS if b.not_run is None]


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN, ids=_ids(RUN))
def test_unmarked_blocks_run(block, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RAY_USAGE_STATS_ENABLED": "0",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    if block.lang in PYTHON:
        script = tmp_path / "block.py"
        script.write_text(block.text)
        argv = [sys.executable, str(script)]
    else:
        text = "\n".join(line.strip().removeprefix("$ ") for line in block.text.splitlines())
        argv = ["bash", "-euo", "pipefail", "-c", text]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{block.id}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
