"""The offline verdict machinery: pack loading, what is sent to the pack, unknowns, parity with gRPC."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pulumi_policy
import pytest
from google.protobuf import empty_pb2
from policy_factory import (
    PACK_DIR,
    UNKNOWN,
    PlanBuilder,
    config,
    endpoint_stack,
    pack,
    policy_json,
    run,
    secure_bucket,
    unknown_leaves,
)
from pulumi.runtime.proto import analyzer_pb2_grpc
from test_policy_rules import CASES

from infra.plan.pack import PackLoadError, load_pack
from infra.plan.policy_config import load_policy_config
from infra.plan.verdict import PolicyRunError, evaluate, has_mandatory


def _bad_plan() -> Any:
    b = PlanBuilder()
    parts = secure_bucket(b)
    b.replace(parts["block"], inputs={**parts["block"].inputs, "blockPublicPolicy": False})
    endpoint = endpoint_stack(b)
    b.replace(
        endpoint["endpoint"],
        inputs={k: v for k, v in endpoint["endpoint"].inputs.items() if k != "deploymentConfig"},
    )
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        "admin",
        {"role": "r", "policy": policy_json({"Effect": "Allow", "Action": "*", "Resource": "*"})},
    )
    return b.plan()


# --- loading ------------------------------------------------------------------------------------------


def test_load_pack_reads_manifest_and_leaves_no_trace() -> None:
    loaded = load_pack(PACK_DIR)
    assert (loaded.name, loaded.version) == ("mlops-guardrails", "1.0.0")
    assert len(loaded.policies) == len({p.name for p in loaded.policies}) >= 23
    assert pulumi_policy.PolicyPack.__name__ == "PolicyPack"  # the capturing stub is gone
    assert not any(name == "rules" or name.startswith("rules.") for name in sys.modules)


def _write_pack(directory: Path, rules_source: str, main: str | None = None) -> Path:
    (directory / "rules").mkdir(parents=True)
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 2.3.4\n", encoding="utf-8")
    (directory / "rules" / "__init__.py").write_text(textwrap.dedent(rules_source), encoding="utf-8")
    (directory / "__main__.py").write_text(
        main
        or "from pulumi_policy import EnforcementLevel, PolicyPack\nfrom rules import POLICIES\n"
        "PolicyPack(name='probe', policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)\n",
        encoding="utf-8",
    )
    return directory


PROBE_RULES = """
    from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

    def every_resource(args, report):
        provider = args.provider and args.provider.name
        report(f"{args.resource_type} parent={args.opts.parent} provider={provider}")

    def stack(args, report):
        for r in args.resources:
            deps = sorted(k for k, v in r.property_dependencies.items() if v)
            parent = r.parent.name if r.parent else None
            report(f"{r.name}: props={sorted(r.props)} parent={parent} deps={deps}", r.urn)

    POLICIES = [
        ResourceValidationPolicy(name="sees", description="Sees every resource.", validate=every_resource),
        StackValidationPolicy(name="stack", description="Sees the stack.", validate=stack),
    ]
"""


def test_a_team_pack_with_its_own_rules_package_loads_beside_ours(tmp_path: Path) -> None:
    probe = load_pack(_write_pack(tmp_path / "probe", PROBE_RULES))
    assert (probe.name, probe.version, [p.name for p in probe.policies]) == (
        "probe",
        "2.3.4",
        ["sees", "stack"],
    )
    assert len(load_pack(PACK_DIR).policies) == len(pack().policies)  # our `rules` was not shadowed


def test_every_resource_is_analyzed_and_the_stack_sees_outputs_parents_and_dependencies(
    tmp_path: Path,
) -> None:
    probe = load_pack(_write_pack(tmp_path / "probe", PROBE_RULES))
    b = PlanBuilder()
    component = b.add("mlops:storage:SecureBucket", "data", {}, custom=False, provider=False)
    bucket = b.add(
        "aws:s3/bucket:Bucket", "data", {"bucket": "data"}, {"arn": "arn:aws:s3:::data"}, parent=component
    )
    b.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        "data",
        {"bucket": "data"},
        deps={"bucket": [bucket]},
        parent=component,
    )
    violations = evaluate(probe, b.plan(), load_policy_config(probe, None))
    resource_messages = [v.message for v in violations if v.policy_name == "sees"]
    # Providers and component resources are analyzed too, as the engine does (no custom-only filter).
    assert resource_messages == [
        "pulumi:providers:aws parent=None provider=None",
        "mlops:storage:SecureBucket parent=None provider=None",
        f"aws:s3/bucket:Bucket parent={component.urn} provider=aws",
        f"aws:s3/bucketVersioning:BucketVersioning parent={component.urn} provider=aws",
    ]
    stack_messages = {v.resource_name: v.message for v in violations if v.policy_name == "stack"}
    assert stack_messages["data"].startswith("data: props=")  # both bucket and versioning are named "data"
    assert any("props=['arn', 'bucket'] parent=data deps=[]" in v.message for v in violations)
    assert any("props=['bucket'] parent=data deps=['bucket']" in v.message for v in violations)
    assert all(v.enforcement == "mandatory" for v in violations)


def test_positional_pack_arguments_are_captured(tmp_path: Path) -> None:
    main = (
        "from pulumi_policy import EnforcementLevel, PolicyPack\nfrom rules import POLICIES\n"
        "PolicyPack('positional', POLICIES, EnforcementLevel.DISABLED, None, 'a description')\n"
    )
    loaded = load_pack(_write_pack(tmp_path / "positional", PROBE_RULES, main=main))
    assert (loaded.name, loaded.enforcement_level.value) == ("positional", "disabled")
    assert loaded.options["description"] == "a description"
    assert load_policy_config(loaded, None)["sees"]["enforcementLevel"] == "disabled"


def test_broken_packs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(PackLoadError, match="PulumiPolicy.yaml is missing"):
        load_pack(tmp_path)
    failing = _write_pack(tmp_path / "failing", "raise RuntimeError('boom')\n")
    with pytest.raises(PackLoadError, match="failed to load: RuntimeError: boom"):
        load_pack(failing)
    silent = _write_pack(tmp_path / "silent", PROBE_RULES, main="from rules import POLICIES\n")
    with pytest.raises(PackLoadError, match="exactly one PolicyPack, built 0"):
        load_pack(silent)
    duplicate_main = (
        "from pulumi_policy import PolicyPack\nfrom rules import POLICIES\n"
        "PolicyPack(name='dup', policies=POLICIES + POLICIES)\n"
    )
    duplicates = _write_pack(tmp_path / "duplicates", PROBE_RULES, main=duplicate_main)
    with pytest.raises(PackLoadError, match="duplicate policy names"):
        load_pack(duplicates)


def test_a_rule_that_crashes_fails_the_verdict(tmp_path: Path) -> None:
    crashing = _write_pack(
        tmp_path / "crashing",
        """
        from pulumi_policy import ResourceValidationPolicy
        def crash(args, report):
            raise KeyError("no such property")
        POLICIES = [ResourceValidationPolicy(name="crash", description="Crashes.", validate=crash)]
        """,
    )
    probe = load_pack(crashing)
    with pytest.raises(
        PolicyRunError, match="failed while analyzing urn:pulumi:prod::mlops::pulumi:providers:aws::aws"
    ):
        evaluate(probe, PlanBuilder().plan(), load_policy_config(probe, None))


# --- the pack's own rules under preview conditions ----------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_compliant_plans_with_every_value_unknown_raise_nothing(case: Any) -> None:
    """A first preview knows almost nothing: rules must neither crash nor report what they cannot see."""
    b = PlanBuilder(stack=case.env)
    case.compliant(b)
    for resource in list(b.resources):
        if resource is not b.provider:
            b.replace(
                resource, inputs=unknown_leaves(resource.inputs), outputs=unknown_leaves(resource.outputs)
            )
    violations = run(b.plan(), case.env, case.overrides)
    assert violations == [], [(v.policy_name, v.message) for v in violations]


def test_messages_do_not_repeat_the_description_and_name_the_remediation() -> None:
    violations = run(_bad_plan())
    assert has_mandatory(violations)
    for violation in violations:
        assert not violation.message.startswith(violation.description)
        assert violation.remediation
        assert set(violation.as_dict()) == {
            "policy",
            "enforcement",
            "severity",
            "urn",
            "resource",
            "message",
            "description",
            "remediation",
        }


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_the_pack_imports_nothing_from_infra() -> None:
    # What the CLI loads (__main__.py and rules/): the standard library, pulumi_policy and the pinned
    # policyuniverse only, and never the developer tools.
    for path in [PACK_DIR / "__main__.py", *sorted((PACK_DIR / "rules").glob("*.py"))]:
        for name in _imports(path):
            if name.startswith("."):
                assert "tools" not in name, f"{path.name} imports {name}"
                continue
            assert name.split(".")[0] in {
                "__future__",
                "pulumi_policy",
                "policyuniverse",
                "rules",
                *sys.stdlib_module_names,
            }, f"{path.name} imports {name}"
    # Nothing under policies/, the tools included, imports the Pulumi program.
    for path in sorted(PACK_DIR.rglob("*.py")):
        if "venv" in path.relative_to(PACK_DIR).parts:
            continue
        assert not [n for n in _imports(path) if n.split(".")[0] == "infra"], f"{path} imports infra"


def test_the_packs_third_party_imports_are_pinned() -> None:
    pins = (PACK_DIR / "requirements.txt").read_text(encoding="utf-8")
    for package in ("pulumi-policy", "policyuniverse"):
        assert re.search(rf"^{package}==[\w.]+$", pins, re.MULTILINE), package


# --- parity with the pack served over gRPC, as the CLI runs it ----------------------------------------


class _GrpcAnalyzer:
    """The Analyzer methods the verdict calls, forwarded to a pack process over gRPC."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = analyzer_pb2_grpc.AnalyzerStub(channel)

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._stub, method)
        return lambda request, _context: call(request, timeout=30)


def test_the_pack_served_as_the_cli_runs_it_gives_the_same_verdict(tmp_path: Path) -> None:
    """`pulumi preview --policy-pack policies` runs `python -m pulumi.policy <engine> .` in the pack directory
    (with only the pack's own requirements importable): serve it the same way and compare verdicts."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    stderr_path = tmp_path / "pack.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=PACK_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline().strip() if ready else ""
        assert line.isdigit(), f"the pack did not start: {line!r}\n{stderr_path.read_text()}"
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            remote = _GrpcAnalyzer(channel)
            for env_name in ("prod", "dev"):
                plan, settings = _bad_plan(), config(env_name)
                over_grpc = evaluate(pack(), plan, settings, analyzer=remote)
                in_process = evaluate(pack(), plan, settings)
                assert over_grpc == in_process and len(in_process) >= 3
            info = remote.GetAnalyzerInfo(empty_pb2.Empty(), None)
            assert sorted(p.name for p in info.policies) == sorted(p.name for p in pack().policies)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_ODD_VALUES = [None, 0, 1.5, True, False, "", "x", [], {}, ["a"], {"a": 1}, UNKNOWN, [None], [{}]]


def _scramble(value: Any, rng: random.Random, rate: float, top: bool = False) -> Any:
    if not top and rng.random() < rate * 0.3:
        return rng.choice(_ODD_VALUES)
    if isinstance(value, dict):
        return {k: _scramble(v, rng, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_scramble(v, rng, rate) for v in value]
    return rng.choice(_ODD_VALUES) if rng.random() < rate else value


@pytest.mark.parametrize("seed", range(6))
def test_rules_never_crash_on_odd_or_unknown_values(seed: int) -> None:
    """A crashing rule fails the whole preview: scramble values (and JSON documents) and expect no crash."""
    rng = random.Random(seed)
    for case in CASES:
        for build in (case.compliant, case.violating):
            b = PlanBuilder(stack=case.env)
            build(b)
            for resource in list(b.resources):
                if resource is b.provider:
                    continue
                inputs = {}
                for key, value in resource.inputs.items():
                    if isinstance(value, str) and value.startswith("{"):
                        value = json.dumps(_scramble(json.loads(value), rng, 0.3))
                    inputs[key] = _scramble(value, rng, 0.2)
                b.replace(resource, inputs=inputs, outputs=_scramble(resource.outputs, rng, 0.2, top=True))
            run(b.plan(), case.env, case.overrides)  # raises PolicyRunError if a rule crashes
