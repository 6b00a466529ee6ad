"""The house rules that code can check: the core is pure, settings and commands are documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import typer.main

from deconfliction.cli import app
from deconfliction.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "deconfliction"
FORBIDDEN_IN_CORE = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "nats",
    "httpx",
    "uvicorn",
    "requests",
    "socket",
    "time",
    "asyncio",
    "threading",
    "subprocess",
    "os",
    "deconfliction.store",
    "deconfliction.api",
    "deconfliction.service",
    "deconfliction.channel",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_nothing_from_the_never_column() -> None:
    core_files = sorted((SRC / "core").glob("*.py"))
    assert len(core_files) >= 5
    for path in core_files:
        for name in _imports(path):
            top = {name.split(".")[0], ".".join(name.split(".")[:2])}
            assert not top & FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


def test_core_never_reads_the_clock() -> None:
    for path in (SRC / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} calls .{node.func.attr}()"


def test_store_and_service_never_import_the_api() -> None:
    for folder in ("store", "service", "channel"):
        for path in (SRC / folder).rglob("*.py"):
            assert not any(n.startswith(("deconfliction.api", "fastapi")) for n in _imports(path)), path


def test_every_setting_and_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"DECONFLICTION_{name.upper()}" in readme, f"setting {name} missing from README"
    click_app = typer.main.get_command(app)
    commands = re.findall(r"deconfliction ([a-z-]+)", readme)
    for name, command in click_app.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            for sub in command.commands:
                assert f"deconfliction {name} {sub}" in readme, f"command {name} {sub} missing from README"
        else:
            assert name in commands, f"command {name} missing from README"
