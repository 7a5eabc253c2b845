"""The house's layers, read from the source: every module's imports go one way.

    mdrportal.core  <-  tenants  <-  incidents  <-  escalation  <-  the entry points

`mdrportal.core` imports no module of the project. A domain app imports its own modules and the layers below
it, never one above and never an entry point. The entry points are what people and machines reach: the pages
(`mdrportal.web`), the REST API (`mdrportal.api`), the site itself (settings, URLs, the Celery app), the
operations app (health, metrics, pruning), and each app's Django admin and management commands (DESIGN:
"Views, admin and API may call any service"); they may import anything.

Inside an app, its sub-packages have an order of their own where one stands on another: `escalation.calls`
(placing a call, what the phone says about it) sits below `escalation.runs` (the notification runs that
queue the calls). A call reports to its run through `escalation.calls.run_side`, never by importing it.

No import of the project's modules hides inside a function to dodge a cycle; the one place Django wants a
late import is `AppConfig.ready`, which loads the modules that register checks and signals.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("mdrportal", "tenants", "incidents", "escalation", "operations", "reports")
DOMAIN = {"mdrportal.core": 0, "tenants": 1, "incidents": 2, "escalation": 3}
ENTRY = 4
# Within one app, a sub-package may import the ones below it, never one above.
SUBLAYERS = {"escalation.calls": 0, "escalation.runs": 1}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    """Where a module stands: its domain layer, or ENTRY for the pages, API, admin, commands and the site."""
    parts = module.split(".")
    if "admin" in parts or any(p.startswith("admin_") for p in parts) or "management" in parts:
        return ENTRY
    for prefix, rank in DOMAIN.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return ENTRY


def sublayer(module: str) -> tuple[str, int] | None:
    """The app and rank of the ordered sub-package a module belongs to, if any."""
    for prefix, rank in SUBLAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return prefix.split(".")[0], rank
    return None


def sources() -> list[Path]:
    return sorted(
        path
        for top in PROJECT
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts and "static" not in path.parts
    )


def project_imports(tree: ast.AST, package: str) -> list[tuple[ast.stmt, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base])
            # `from pkg import module` names a module; `from module import name` names the module.
            found += [(node, f"{base}.{alias.name}") for alias in node.names]
    return [(node, name) for node, name in found if name.split(".")[0] in PROJECT]


def imported_module(name: str) -> str:
    """The module an import reaches: `tenants.models.Contact` is `tenants.models`."""
    parts = name.split(".")
    while parts:
        candidate = ROOT.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return name


def late_imports(tree: ast.AST) -> list[ast.stmt]:
    """Imports of the project's modules inside a function, apart from an AppConfig's ready()."""
    late = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "ready":
            late += [
                inner
                for inner in ast.walk(node)
                if isinstance(inner, ast.Import | ast.ImportFrom)
                and any(name.split(".")[0] in PROJECT for name in _names(inner))
            ]
    return late


def _names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return [alias.name for alias in node.names]


def test_the_layers_are_what_this_test_reads() -> None:
    assert layer("mdrportal.core.append_only") == 0
    assert layer("tenants.models") == 1
    assert layer("incidents.gate") == 2
    assert layer("escalation.runs.services") == 3
    assert layer("tenants.admin") == layer("incidents.admin_connectors") == ENTRY
    assert (
        layer("mdrportal.web.access") == layer("mdrportal.api.urls") == layer("mdrportal.settings") == ENTRY
    )
    assert imported_module("tenants.models.Contact") == "tenants.models"
    assert len(sources()) > 50


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(source)
    own = layer(module)
    against = [
        f"line {node.lineno}: {module} imports a function-local {_names(node)[0]}"
        for node in late_imports(tree)
    ]
    if own == ENTRY:
        return against
    for node, name in project_imports(tree, package):
        target = imported_module(name)
        theirs = layer(target)
        same_app = target.split(".")[0] == module.split(".")[0] and own == theirs
        core_only = own == 0 and not target.startswith("mdrportal.core")
        if theirs > own or (theirs == own and not same_app) or core_only:
            against.append(f"line {node.lineno}: {module} (layer {own}) imports {target} (layer {theirs})")
        elif _goes_up_within_app(module, target):
            against.append(f"line {node.lineno}: {module} imports {target}, a sub-package above it")
    return against


def _goes_up_within_app(module: str, target: str) -> bool:
    mine, theirs = sublayer(module), sublayer(target)
    return mine is not None and theirs is not None and mine[0] == theirs[0] and theirs[1] > mine[1]


def test_the_reader_finds_an_import_against_the_layers() -> None:
    assert violations("tenants.models", "from escalation.models import CallAttempt\n") == [
        "line 1: tenants.models (layer 1) imports escalation.models (layer 3)"
    ]
    assert violations("incidents.services", "from mdrportal.web import access\n") != []
    assert violations("mdrportal.core.env", "from tenants import models\n") != []
    assert violations("escalation.calls.records", "def f():\n    from incidents import models\n") != []
    assert (
        violations(
            "escalation.calls.records",
            "from incidents.models import Incident\nfrom escalation import tasks\n",
        )
        == []
    )
    assert violations("tenants.admin", "from escalation.models import CallAttempt\n") == []


def test_the_calls_sit_below_the_runs() -> None:
    assert sublayer("escalation.calls.dispatch") < sublayer("escalation.runs.services")
    assert violations("escalation.calls.progress", "from escalation.runs.services import run_advance\n") == [
        "line 1: escalation.calls.progress imports escalation.runs.services, a sub-package above it"
    ]
    assert violations("escalation.calls.dispatch", "from escalation.runs import states\n") != []
    assert violations("escalation.calls.dispatch", "from ..runs.states import run_stop\n") != []
    assert violations("escalation.runs.states", "from escalation.calls.records import calls_stop\n") == []
    assert violations("escalation.calls.dispatch", "from escalation.calls.pace import call_pacer\n") == []
    assert violations("escalation.calls.dispatch", "from escalation.wanted import call_still_wanted\n") == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_goes_down_the_layers_and_none_hides_in_a_function(path: Path) -> None:
    assert violations(module_name(path), path.read_text(), is_package=path.name == "__init__.py") == []
