"""The shape of the engine, kept by tests: one mechanism per file, agents decide and markets and registers settle.

* agents/ imports nothing from sim/ (the engine builds the agents; decision rules read the economy they are given);
* an agent calls no method of ``GPUEconomy`` other than its read-only calendar and queries;
* no module of sim/ or agents/ is above 500 lines and no function above 75 (the aim is 60);
* ``GPUEconomy.step()`` is the named phases of the ODD's section 3, in order.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ_ONLY_QUERIES = {"rival_share", "gen_index", "datacentre_capex", "lenders_by_capital", "new_id"}
PHASES = ["open_month", "earn_ai_revenue", "fund_developers", "sign_compute_contracts", "trade_chips",
          "clear_compute_market", "service_debt", "mark_and_enforce", "settle_equity", "age_the_economy",
          "form_expectations", "check_accounts", "record"]


def _modules(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_agents_import_nothing_from_the_engine():
    for path in _modules("agents"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert not (target.startswith("..sim") or target.startswith("gpucredit.sim")) or _in_type_checking(tree, node), \
                    f"{path.name} imports {target}: agents/ must not depend on sim/"


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            if any(child is node for stmt in block.body for child in ast.walk(stmt)):
                return True
    return False


def test_agents_call_only_the_models_read_only_queries():
    from gpucredit.sim.model import GPUEconomy

    methods = {name for name, member in inspect.getmembers(GPUEconomy, inspect.isfunction)
               if member.__qualname__.startswith("GPUEconomy.")}
    called = {}
    for path in _modules("agents"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                is_model = (isinstance(owner, ast.Name) and owner.id == "m") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "model")
                if is_model and node.func.attr in methods:
                    called.setdefault(node.func.attr, path.name)
    assert set(called) <= READ_ONLY_QUERIES, f"agents call GPUEconomy methods that are not read-only queries: {called}"


def test_modules_and_functions_stay_small():
    too_long = []
    for path in _modules("sim", "agents"):
        text = path.read_text()
        if text.count("\n") > 500:
            too_long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 75:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, "; ".join(too_long)


def test_a_month_is_the_named_phases_in_order():
    from gpucredit.sim.model import GPUEconomy

    tree = ast.parse(inspect.getsource(GPUEconomy.step).strip())
    calls = [n.value.func.attr for n in tree.body[0].body
             if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute)]
    assert calls == PHASES
