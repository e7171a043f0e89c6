"""The layering the package promises: no import cycle, and production never imports the sandbox.

`make test` runs `lint-imports` on the contracts in pyproject.toml; these tests check that those
contracts cover every module and really fail on a violation, and what import-linter cannot say (a
cycle anywhere in the package).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONTRACT = "Production code never imports the sandbox"
#: The modules allowed to import the sandbox: the sandbox itself, and the CLI that starts it.
NOT_PRODUCTION = {"video_analytics.sandbox", "video_analytics.cli"}


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan's SCCs)."""
    imports = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1 or module in imports[module]:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def sandbox_contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["name"] == SANDBOX_CONTRACT]
    return contract


def test_no_module_of_the_package_imports_itself_through_others():
    # imports under `if TYPE_CHECKING:` never run, so they close no circle
    graph = grimp.build_graph("video_analytics", cache_dir=None, exclude_type_checking_imports=True)
    assert import_cycles(graph) == []


def test_the_sandbox_contract_covers_every_production_module():
    top_level = {
        f"video_analytics.{path.stem}"
        for path in (ROOT / "video_analytics").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    contract = sandbox_contract()
    assert contract["forbidden_modules"] == ["video_analytics.sandbox"]
    assert set(contract["source_modules"]) == top_level - NOT_PRODUCTION, (
        f"list each new module in the {SANDBOX_CONTRACT!r} contract of pyproject.toml"
    )


def test_lint_imports_fails_when_an_asset_module_imports_a_simulator(tmp_path):
    copy = tmp_path / "video_analytics"
    shutil.copytree(ROOT / "video_analytics", copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    assets = copy / "brightcove" / "assets.py"
    assets.write_text(assets.read_text() + "\nfrom video_analytics.sandbox.brightcove import simulator\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = " ".join(result.stdout.split())  # rich wraps lines at the terminal's width
    assert result.returncode == 1, report + result.stderr
    assert f"{SANDBOX_CONTRACT} BROKEN" in report
    assert "video_analytics.brightcove.assets -> video_analytics.sandbox.brightcove.simulator" in report
