"""The one lock order (incidents.locks), read from the source: every lock is FOR NO KEY UPDATE, and every
transaction in incidents and escalation takes an incident's lock before any row below it.

A function's locks are the lock helpers it calls and its own `select_for_update` calls, in source order; a
call to another function of the two apps counts as that function's first lock. A function "needs the
incident's lock" when a row below the incident (run, call, action, attempt, series, email, text) is locked,
or its timeline or flag written, before any incident lock. That is fine for a helper that works on a locked
incident, never for a transaction's outermost function (one decorated `retried_atomic` or
`transaction.atomic`, or opening `with transaction.atomic()`): that one would take the locks out of order.
Locks that skip what others hold (`skip_locked=True`) never wait, and so may come in any order.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("mdrportal", "tenants", "incidents", "escalation", "operations")
ORDERED = ("incidents", "escalation")

# The helpers of incidents.locks (and beside the escalation models): what each takes first.
TAKES_INCIDENT = {
    "incident_lock",
    "incident_lock_if_free",
    "action_lock",
    "action_lock_if_free",
    "incident_open",  # a new incident: its row is its transaction's alone until the commit
}
BELOW_INCIDENT = {"run_lock", "call_lock", "attempt_lock", "actions_lock", "runs_stop"}
# Writes to an incident's timeline or flag: whatever makes them holds the incident's lock first.
INCIDENT_WRITES = {"timeline_record", "incident_flag"}
# Rows that belong to one incident; other rows (tenants, contacts, logins) are no part of the order.
OWNED = {
    "ResponseAction",
    "ActionAttempt",
    "NotificationRun",
    "CallAttempt",
    "ReminderSeries",
    "Reminder",
    "EmailNotification",
    "TextMessage",
    "TimelineEvent",
}
HELPER_MODULES = {"incidents/locks.py"}
# Transactions that the check by name reads wrong, and why they are in order.
EXEMPT = {
    "test_calls_end_stale": "test calls belong to no incident: call_end writes no timeline for them",
}


def sources(tops: tuple[str, ...]) -> list[Path]:
    return sorted(
        path for top in tops for path in (ROOT / top).rglob("*.py") if "migrations" not in path.parts
    )


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _receiver_root(node: ast.expr) -> str:
    """`Incident.objects.select_for_update(...)`: Incident."""
    while isinstance(node, ast.Attribute | ast.Call):
        node = node.value if isinstance(node, ast.Attribute) else node.func
    return node.id if isinstance(node, ast.Name) else ""


@dataclass
class Function:
    module: str
    name: str
    line: int
    root: bool  # a transaction's outermost function
    events: list[tuple[int, int, str, str]] = field(default_factory=list)  # (line, col, kind, what)


def _is_atomic(node: ast.expr) -> bool:
    text = ast.unparse(node)
    return text in ("retried_atomic", "transaction.atomic") or text.startswith("transaction.atomic(")


def functions(path: Path) -> list[Function]:
    module = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(), filename=module)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        opens = any(
            isinstance(inner, ast.With) and any(_is_atomic(item.context_expr) for item in inner.items)
            for inner in ast.walk(node)
        )
        function = Function(
            module, node.name, node.lineno, opens or any(map(_is_atomic, node.decorator_list))
        )
        for inner in ast.walk(node):
            if not isinstance(inner, ast.Call):
                continue
            name = _called_name(inner)
            where = (inner.lineno, inner.col_offset)
            if name in TAKES_INCIDENT:
                function.events.append((*where, "incident", name))
            elif name in BELOW_INCIDENT or name in INCIDENT_WRITES:
                function.events.append((*where, "below", name))
            elif name == "update" and _receiver_root(inner.func) == "Incident":
                function.events.append((*where, "incident", "Incident.objects.update"))  # a row lock too
            elif name == "select_for_update" and not _is_true(_keyword(inner, "skip_locked")):
                receiver = inner.func.value if isinstance(inner.func, ast.Attribute) else inner
                root = _receiver_root(receiver)
                # A lowercase root is a relation of a row already locked (`incident.notification_runs`).
                if root == "Incident" or root in OWNED or root[:1].islower():
                    kind = "incident" if root == "Incident" else "below"
                    function.events.append((*where, kind, ast.unparse(inner.func)))
            elif name is not None:
                function.events.append((*where, "call", name))
        function.events.sort()
        found.append(function)
    return found


def first_locks(all_functions: list[Function]) -> dict[int, tuple[str, str] | None]:
    """id(function) -> its first lock, ("incident", what) or ("below", what), itself or through a callee
    (by name: the module's own function of that name, else any function of that name that locks below first); None for no lock."""
    by_name: dict[str, list[Function]] = {}
    for function in all_functions:
        by_name.setdefault(function.name, []).append(function)
    memo: dict[int, tuple[str, str] | None] = {}

    def first(function: Function) -> tuple[str, str] | None:
        if id(function) in memo:
            return memo[id(function)]
        memo[id(function)] = None  # a recursive call finds no lock on its way back
        found = None
        for _line, _col, kind, what in function.events:
            if kind != "call":
                found = (kind, what)
                break
            if function.module in HELPER_MODULES:
                continue
            named = by_name.get(what, [])
            callees = [first(f) for f in [f for f in named if f.module == function.module] or named]
            below = next((c for c in callees if c and c[0] == "below"), None)
            if below is not None:
                found = ("below", f"{what} -> {below[1]}")
                break
            if any(c and c[0] == "incident" for c in callees):
                found = ("incident", what)
                break
        memo[id(function)] = found
        return found

    return {id(function): first(function) for function in all_functions}


def out_of_order(paths: list[Path]) -> list[str]:
    every = [f for path in paths for f in functions(path)]
    first = first_locks(every)
    return [
        f"{f.module}:{f.line} {f.name} locks {lock[1]} before the incident's lock"
        for f in every
        if f.root and f.name not in TAKES_INCIDENT | EXEMPT.keys()
        if (lock := first[id(f)]) is not None and lock[0] == "below"
    ]


def test_every_transaction_takes_the_incidents_lock_before_the_rows_below_it() -> None:
    assert out_of_order(sources(ORDERED)) == []


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef)


def test_every_row_lock_is_for_no_key_update() -> None:
    plain = []
    for path in sources(PROJECT):
        tree = ast.parse(path.read_text())
        documentation = {
            id(body[0].value)
            for body in (n.body for n in ast.walk(tree) if isinstance(n, _DOCUMENTED))
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            locks = isinstance(node, ast.Call) and _called_name(node) == "select_for_update"
            if locks and not _is_true(_keyword(node, "no_key")):
                plain.append(where)
            text = node.value if isinstance(node, ast.Constant) and id(node) not in documentation else None
            if isinstance(text, str) and re.search(r"\bFOR\s+UPDATE\b", text, re.IGNORECASE):
                plain.append(f"{where} (SQL)")
    assert plain == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        (  # the execution step before the one order: the action first, and the incident never
            "from django.db import transaction\n"
            "@transaction.atomic\n"
            "def action_claim(pk):\n"
            "    action = _lock(pk)\n"
            "    timeline_record(incident=action.incident)\n"
            "def _lock(pk):\n"
            "    return ResponseAction.objects.select_for_update(of=('self',)).get(pk=pk)\n",
            [
                "x.py:3 action_claim locks _lock -> ResponseAction.objects.select_for_update before the incident's lock"
            ],
        ),
        (  # a run locked, then its incident
            "@retried_atomic\ndef step(pk):\n    run = run_lock(pk)\n    incident_lock(run.incident_id)\n",
            ["x.py:2 step locks run_lock before the incident's lock"],
        ),
        (  # the right order, and a sweeper's lock that skips what others hold
            "@retried_atomic\ndef step(pk):\n    incident_lock(1)\n    run_lock(pk)\n"
            "@retried_atomic\ndef sweep():\n    Run.objects.select_for_update(no_key=True, skip_locked=True)\n",
            [],
        ),
    ],
)
def test_the_order_check_finds_a_path_out_of_order(tmp_path: Path, source: str, found: list[str]) -> None:
    global ROOT
    (tmp_path / "x.py").write_text(source)
    saved, ROOT = ROOT, tmp_path
    try:
        assert out_of_order([tmp_path / "x.py"]) == found
    finally:
        ROOT = saved
