"""`python -m infra.manifests`: write, render, judge and compare every overlay (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.cli import EXIT_ERROR, EXIT_OK, EXIT_VERDICT, add_format_option
from infra.config import ConfigError, parse_stack_config
from infra.core.arns import Arns
from infra.core.files import write_atomically
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import model_server, pull_overlays
from infra.manifests.judge import judge
from infra.manifests.overlays import ManifestError, Overlay, overlay_of, overlays, promoted_version, render
from infra.plan.project import ProjectError, load_stack
from infra.plan.verdict import Violation, has_mandatory


def write_patches(overlay: Overlay) -> list[Path]:
    """Rewrite the overlay's patches from its stack config; returns the files that changed."""
    stack = load_stack(PROJECT_ROOT, overlay.environment)
    config = parse_stack_config(stack.config)
    pulled = config.pulled_sagemaker_models().get(overlay.model)
    deploy = config.kubernetes_models().get(overlay.model)
    if pulled is not None:
        try:
            files = pull_overlays.generated_files(overlay.environment, overlay.model,
                                                  Naming(stack.project, overlay.environment), pulled,
                                                  pull_overlays.facts(config, overlay.path))
        except pull_overlays.OverlayError as exc:
            raise ManifestError(f"{overlay.environment}/{overlay.model}: {exc}") from None
    elif deploy is not None:
        files = model_server.patch_files(overlay.environment, overlay.model, deploy,
                                         model_server.capture_facts(config, overlay.model, overlay.path))
    else:
        raise ManifestError(f"{overlay.environment}/{overlay.model}: the stack config does not serve this model "
                            "with target kubernetes or with target sagemaker and delivery pull")
    changed = []
    for name, text in files.items():
        path = overlay.path / name
        if not path.is_file() or path.read_text() != text:
            write_atomically(path, text)
            changed.append(path)
    return changed


def check(overlay: Overlay) -> tuple[list[Violation], list[str]]:
    """Render, judge and compare one overlay with its environment's stack config."""
    manifests = render(overlay.path)
    violations = judge(manifests, overlay.environment, overlay.model)
    problems: list[str] = []
    promoted_version(overlay)
    try:
        stack = load_stack(PROJECT_ROOT, overlay.environment)
        config = parse_stack_config(stack.config)
    except (ProjectError, ConfigError) as exc:
        return violations, [f"{overlay.environment}/{overlay.model}: {exc}"]
    naming = Naming(stack.project, overlay.environment)
    if pull_overlays.is_pull_overlay(overlay.path):
        where = f"{overlay.environment}/{overlay.model}"
        pulled = config.pulled_sagemaker_models().get(overlay.model)
        if pulled is None:
            return violations, [f"{where}: the stack config does not serve this model with target sagemaker and "
                                "delivery pull, so its AppProject will refuse to sync it"]
        try:
            pull = pull_overlays.facts(config, overlay.path)
        except (pull_overlays.OverlayError, ProjectError, ConfigError) as exc:
            return violations, [f"{where}: {exc}"]
        return violations, pull_overlays.disagreements(where, manifests, naming, overlay.model, pulled, pull,
                                                       promoted_version(overlay))
    deploy = config.kubernetes_models().get(overlay.model)
    if deploy is None:
        problems.append(f"{overlay.environment}/{overlay.model}: the stack config does not serve this model with "
                        "target kubernetes, so its AppProject will refuse to sync it")
    else:
        try:
            arns = Arns.for_region(config.region, config.account_id) if config.account_id else None
        except ValueError as exc:
            return violations, [f"{overlay.environment}/{overlay.model}: {exc}"]
        try:
            capture = model_server.capture_facts(config, overlay.model, overlay.path)
        except (ManifestError, ProjectError, ConfigError) as exc:
            return violations, [f"{overlay.environment}/{overlay.model}: {exc}"]
        problems += model_server.disagreements(overlay, manifests, deploy, naming, arns, config.region, capture)
    return violations, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.manifests",
                                     description="Render, judge and compare every gitops/<env>/<model> overlay.")
    parser.add_argument("overlays", nargs="*", type=Path, help="gitops/<env>/<model> directories (default: all)")
    add_format_option(parser)
    parser.add_argument("--write-patches", action="store_true",
                        help="rewrite rollout-patch.yaml and hpa-patch.yaml from the stack config, then check")
    args = parser.parse_args(argv)
    try:
        chosen = [overlay_of(p) for p in args.overlays] if args.overlays else overlays()
        if args.write_patches:
            for overlay in chosen:
                for path in write_patches(overlay):
                    print(f"wrote {path}", file=sys.stderr)
        results = {f"{o.environment}/{o.model}": check(o) for o in chosen}
    except (ManifestError, ProjectError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    failed = any(has_mandatory(v) or problems for v, problems in results.values())
    if args.format == "json":
        print(json.dumps({name: {"violations": [x.as_dict() for x in v], "problems": p}
                          for name, (v, p) in results.items()}, indent=2))
    else:
        for name, (violations, problems) in results.items():
            verdict = "FAIL" if has_mandatory(violations) or problems else "ok"
            print(f"{name}: {verdict}")
            for v in violations:
                print(f"  [{v.enforcement}] {v.policy_name}: {v.resource_name}: {v.message}")
            for p in problems:
                print(f"  [config] {p}")
    return EXIT_VERDICT if failed else EXIT_OK
