"""The layout says which code `pulumi up` loads and which only CI runs, and imports go one way.

* The Pulumi program is `infra/__main__.py` with `infra.config`, `infra.components` and `infra.core` (the pure
  modules: one home per fact). Everything `infra/__main__.py` imports, directly or not, is in those packages.
* The tools (`infra.plan`, `infra.release`, `infra.manifests`, `infra.cleanup`, `infra.config_docs`, and
  `infra.cli`, the conventions their command lines share) may import
  the program's pure modules and config, never a component (its internals are not an interface).
* `infra.core` imports no component and no tool; the policy pack and the model code import nothing from infra.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.core.paths import PROJECT_ROOT

PROGRAM_PACKAGES = ("infra.config", "infra.components", "infra.core")
TOOL_PACKAGES = ("infra.plan", "infra.release", "infra.manifests", "infra.cleanup", "infra.config_docs", "infra.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((PROJECT_ROOT / "infra").rglob("*.py"))}


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _imports(module: str) -> set[str]:
    """The infra modules `module` imports (at any depth of its code, so lazy imports count too)."""
    found: set[str] = set()
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: a relative import; the project imports absolutely"
            base = node.module or ""
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m in MODULES}


def test_every_infra_module_is_in_exactly_one_part() -> None:
    loose = [m for m in MODULES if m not in ("infra", "infra.__main__")
             and not _in(m, PROGRAM_PACKAGES) and not _in(m, TOOL_PACKAGES)]
    assert loose == [], f"modules outside the program's and the tools' packages: {loose}"


def test_the_program_loads_only_program_modules() -> None:
    seen, todo = set(), ["infra.__main__"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += sorted(_imports(module))
    outside = sorted(m for m in seen - {"infra", "infra.__main__"} if not _in(m, PROGRAM_PACKAGES))
    assert outside == [], f"`pulumi up` would load tool modules: {outside}"
    assert {"infra.core.naming", "infra.components.sagemaker_endpoint", "infra.config.parse"} <= seen


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, TOOL_PACKAGES)))
def test_tools_never_import_a_component(module: str) -> None:
    components = sorted(m for m in _imports(module) if _in(m, ("infra.components",)))
    assert components == [], f"{module} imports component internals {components}; ask infra.core instead"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, PROGRAM_PACKAGES)))
def test_the_program_never_imports_a_tool(module: str) -> None:
    tools = sorted(m for m in _imports(module) if _in(m, TOOL_PACKAGES))
    assert tools == [], f"{module} (loaded by `pulumi up`) imports the CI tools {tools}"
    if _in(module, ("infra.core",)):
        assert not any(_in(m, ("infra.components",)) for m in _imports(module)), f"{module} imports a component"


def test_the_import_scanner_sees_real_edges() -> None:
    """The checks above would pass vacuously if the scanner found no imports: it must see known edges."""
    assert "infra.core.naming" in _imports("infra.components.sagemaker_endpoint")
    assert "infra.plan.project" in _imports("infra.cleanup")  # a lazy import inside a function
    assert "infra.core.canary" in _imports("infra.manifests.model_server")


LINE_LIMIT = 450
GENERATED = {
    "policies/rules/taggable_types.py",  # python -m policies.tools.gen_taggable writes it
    "policies/rules/managed_policies.py",  # python -m policies.tools.gen_managed_policies writes it
}
BEING_SPLIT: set[str] = set()


def test_product_modules_stay_small_enough_to_read() -> None:
    """Files above ~450 lines hold several modules; split them at their seams (GUIDE: small modules)."""
    long = {}
    for folder in ("infra", "model_code", "policies"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            name = path.relative_to(PROJECT_ROOT).as_posix()
            lines = len(path.read_text().splitlines())
            if lines > LINE_LIMIT and name not in GENERATED | BEING_SPLIT:
                long[name] = lines
    assert long == {}, f"split these at their seams: {long}"
