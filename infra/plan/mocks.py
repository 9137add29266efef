"""The mock side of an offline plan: what AWS would answer, and a monitor that records every registration.

`PlanMocks` answers like a provider would after a create: inputs come back as outputs, plus the computed
values programs read (ARNs, ids, URLs, auto-names), derived deterministically from names, so that two runs
of the same program produce the same plan.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from infra.core.arns import DNS_SUFFIX, Arns, partition_of
from infra.plan.model import PlannedResource

StackOutputs = tuple[dict[str, Any], list[str]]
"""A stack's outputs and the names of those that are secret."""

StackResolver = Callable[[str], StackOutputs]
"""Given a stack reference name, return that stack's outputs."""

_SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the SDK's marker of a secret value on the wire
_SECRET_VALUE = rpc._special_secret_sig  # noqa: SLF001

DEFAULT_ACCOUNT_ID = "123456789012"

ANSWERED_CALLS = (
    "aws:index/getAvailabilityZones:getAvailabilityZones",
    "aws:index/getCallerIdentity:getCallerIdentity",
    "aws:index/getPartition:getPartition",
    "aws:index/getRegion:getRegion",
)
"""The provider functions (invokes) an offline plan answers; any other fails, reported by its token."""


class PlanMocks(Mocks):
    """Deterministic provider answers for one stack in one account and region."""

    def __init__(self, account_id: str, region: str, stack_outputs: Mapping[str, StackOutputs] | None = None):
        self.account_id = account_id
        self.region = region
        # The partition of the region, as the provider would answer; a region no partition holds plans as `aws`.
        try:
            self.partition = partition_of(region)
        except ValueError:
            self.partition = "aws"
        self.arns = Arns(self.partition, region, account_id)
        self.dns_suffix = DNS_SUFFIX[self.partition]
        self._stack_outputs = dict(stack_outputs or {})
        self.missing_references: set[str] = set()
        self.unanswered_calls: set[str] = set()

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        """Answer the provider functions a program may need at preview, as `(result, failures)`.

        The SDK iterates the failures, so they are a list (empty on success). An invoke without an answer
        here fails with a check failure naming its token, and the runner reports it by that name.
        """
        answer = self._answer(args.token)
        if answer is None:
            self.unanswered_calls.add(args.token)
            return {}, [("", f"the offline plan has no answer for {args.token}")]
        return answer, []

    def _answer(self, token: str) -> dict[str, Any] | None:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = self.arns.arn("iam", "user/offline-plan", region="")
            return {"accountId": self.account_id, "arn": arn, "userId": "AIDAOFFLINEPLAN", "id": self.account_id}
        if token == "aws:index/getRegion:getRegion":
            endpoint = f"ec2.{self.region}.{self.dns_suffix}"
            return {"name": self.region, "region": self.region, "id": self.region, "endpoint": endpoint,
                    "description": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": self.dns_suffix,
                    "reverseDnsPrefix": ".".join(reversed(self.dns_suffix.split("."))), "id": self.partition}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{zone}" for zone in "abc"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)], "id": self.region,
                    "groupNames": [self.region] * 3}
        return None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(args)
        state = dict(args.inputs)
        physical = _physical_name(args, state)
        service = args.typ.split(":")[1].split("/")[0] if args.typ.startswith("aws:") else ""
        if args.typ.startswith("aws:"):
            state.setdefault("name", physical)
            state.setdefault("arn", self._arn(service, args.typ, physical))
            state.setdefault("tagsAll", {**state.get("tags", {})})
        if args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{self.account_id}.dkr.ecr.{self.region}.{self.dns_suffix}/{physical}"
            state["registryId"] = self.account_id
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(state.get("url", physical)).removeprefix("https://")
            state["arn"] = self.arns.oidc_provider(host)
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = _digest(physical, 32)
            state["arn"] = self.arns.kms(f"key/{state['keyId']}")
        if args.typ == "aws:eks/cluster:Cluster":
            # What EKS computes on create: the API endpoint, its CA and the cluster's OIDC issuer (for IRSA).
            cluster_id = _digest(physical, 32).upper()
            state["endpoint"] = f"https://{cluster_id}.gr7.{self.region}.eks.{self.dns_suffix}"
            state["certificateAuthority"] = {"data": "T0ZGTElORS1QTEFOLUNB"}
            issuer = f"https://oidc.eks.{self.region}.{self.dns_suffix}/id/{cluster_id}"
            state["identities"] = [{"oidcs": [{"issuer": issuer}]}]
        if args.typ == "random:index/randomPassword:RandomPassword":
            # Deterministic, so two plans agree; it is only ever seen as a secret.
            state["result"] = _digest(args.name, int(state.get("length", 32)))
        if args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = state.get("bucket") or physical
            state["arn"] = self.arns.bucket(state["bucket"])
            return state["bucket"], state
        return physical if args.custom else None, state

    def _arn(self, service: str, typ: str, physical: str) -> str:
        kind = typ.split(":")[-1]
        kind = "".join("-" + c.lower() if c.isupper() else c for c in kind).lstrip("-")
        return self.arns.arn(service, f"{kind}/{physical}", region="" if service == "iam" else None)

    def _stack_reference(self, args: MockResourceArgs) -> tuple[str, dict]:
        name = args.inputs.get("name") or args.name
        if name not in self._stack_outputs:
            # Planning another stack now would clobber the runtime this run is using; ask the runner to.
            self.missing_references.add(name)
            raise LookupError(f"stack reference {name!r} is not planned yet")
        outputs, secret_names = self._stack_outputs[name]
        return name, {"name": name, "outputs": outputs, "secretOutputNames": secret_names}


class RecordingMonitor(MockMonitor):
    """The SDK's MockMonitor, also keeping what the engine would know: parents, options, dependencies."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.records: list[PlannedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self.secret_outputs: set[str] = set()

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            # The engine analyzes the root stack resource too. The SDK's mock setup registers one as well:
            # keep a single record of it.
            with self._lock:
                if any(r.urn == response.urn for r in self.records):
                    return response
        outputs = self.resources[response.urn].state if response.urn in self.resources else {}
        self._record(request, response.urn, request.object, outputs, request.custom)
        return response

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)
        self._record(request, response.urn, request.properties, self.resources[response.urn].state, True)
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            outputs = _deserialize(request.outputs)
            secrets: set[str] = set()
            self.stack_outputs = {k: _unwrap(v, k, secrets) for k, v in outputs.items()}
            self.secret_outputs = secrets
        return super().RegisterResourceOutputs(request)

    def _record(self, request: Any, urn: str, properties: Any, outputs: dict, custom: bool) -> None:
        secrets: set[str] = set()
        inputs = {k: _unwrap(v, k, secrets) for k, v in _deserialize(properties).items()}
        record = PlannedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(custom),
            parent=request.parent or None,
            inputs=inputs,
            outputs={k: _unwrap(v, k, set()) for k, v in outputs.items()},
            protect=bool(getattr(request, "protect", False)),
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
            delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
            ignore_changes=tuple(getattr(request, "ignoreChanges", ())),
            dependencies=tuple(request.dependencies),
            property_dependencies={
                k: tuple(v.urns) for k, v in getattr(request, "propertyDependencies", {}).items()
            },
            provider=request.provider or None,
            secret_keys=frozenset(secrets),
        )
        with self._lock:
            self.records.append(record)


def _deserialize(struct: Any) -> dict[str, Any]:
    return rpc.deserialize_properties(struct) or {}


def _unwrap(value: Any, key: str, secrets: set[str]) -> Any:
    """Plain values; `secrets` collects the top-level keys that held a secret anywhere inside."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            secrets.add(key)
            return _unwrap(value.get("value"), key, secrets)
        return {k: _unwrap(v, key, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, key, secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; give integers back their type, as JSON would.
        return int(value)
    return value


def _physical_name(args: MockResourceArgs, state: dict[str, Any]) -> str:
    for key in ("name", "bucket", "modelPackageGroupName", "pipelineName", "dashboardName"):
        if isinstance(state.get(key), str) and state[key]:
            return state[key]
    # Auto-naming, as the provider does it: the logical name plus a stable suffix.
    return f"{args.name}-{_digest(args.typ + args.name, 7)}"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
