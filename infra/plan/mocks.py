"""The mock side of an offline plan: what AWS would answer, and a monitor that records every registration.

`PlanMocks` answers like a provider would after a create: inputs come back as outputs, plus the computed
values programs read (ARNs, ids, URLs, auto-names), derived deterministically from names, so that two runs
of the same program produce the same plan.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from infra.core.arns import DNS_SUFFIX, Arns, partition_of
from infra.plan.arns import GET_ARN, ID_PREFIXES, ArnParseError, arn_for, aws_id, get_arn
from infra.plan.expand import EXPANDED, NOT_EXPANDABLE, ExpansionError, decode_yaml, expand
from infra.plan.model import NotExpanded, PlannedResource
from infra.plan.policy_document import TOKEN as POLICY_DOCUMENT
from infra.plan.policy_document import PolicyDocumentError, policy_document

StackOutputs = tuple[dict[str, Any], list[str]]
"""A stack's outputs and the names of those that are secret."""

StackResolver = Callable[[str], StackOutputs]
"""Given a stack reference name, return that stack's outputs."""

_SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the SDK's marker of a secret value on the wire
_SECRET_VALUE = rpc._special_secret_sig  # noqa: SLF001

DEFAULT_ACCOUNT_ID = "123456789012"

ANSWERED_CALLS = (
    "aws:index/getArn:getArn",
    "aws:iam/getPolicyDocument:getPolicyDocument",
    "aws:index/getAvailabilityZones:getAvailabilityZones",
    "aws:index/getCallerIdentity:getCallerIdentity",
    "aws:index/getPartition:getPartition",
    "aws:index/getRegion:getRegion",
    "kubernetes:yaml:decode",
)
"""The provider functions (invokes) an offline plan answers; any other fails, reported by its token."""


_BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/directoryBucket:DirectoryBucket")


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
        self.failed_calls: list[str] = []

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        """Answer the provider functions a program may need at preview, as `(result, failures)`.

        The SDK iterates the failures, so they are a list (empty on success). An invoke without an answer
        here fails with a check failure naming its token, and the runner reports it by that name.
        """
        pure = {POLICY_DOCUMENT: policy_document, GET_ARN: get_arn}.get(args.token)
        if pure is not None:
            try:
                return pure(args.args), []
            except (PolicyDocumentError, ArnParseError) as exc:
                # The provider refuses these arguments too: the plan fails with its reason, as preview would.
                self.failed_calls.append(f"{args.token}: {exc}")
                return {}, [("", str(exc))]
        if args.token == "kubernetes:yaml:decode":
            return decode_yaml(args.args), []
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
        if args.typ.startswith("aws:"):
            self._aws_outputs(args.typ, physical, state)
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
        if args.typ in _BUCKET_TYPES:
            return state["bucket"], state  # the provider's id of a bucket is its name
        if "id" in state and args.typ in ID_PREFIXES:
            return state["id"], state
        return physical if args.custom else None, state

    def _aws_outputs(self, typ: str, physical: str, state: dict[str, Any]) -> None:
        """The values AWS computes on create: ARN (in the type's own format, see infra.plan.arns), ids, URLs."""
        state.setdefault("name", physical)
        state.setdefault("tagsAll", {**state.get("tags", {})})
        if typ in _BUCKET_TYPES:
            state["bucket"] = state.get("bucket") or physical
            physical = state["bucket"]
        if typ in ID_PREFIXES:
            state["id"] = aws_id(typ, physical)
            physical = state["id"]
        if typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{self.account_id}.dkr.ecr.{self.region}.{self.dns_suffix}/{physical}"
            state["registryId"] = self.account_id
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            physical = str(state.get("url", physical)).removeprefix("https://")
        if typ in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
            state["keyId"] = _digest(physical, 32)
            physical = state["keyId"]
        if "arn" not in state:
            arn = arn_for(typ, physical, state, self.region, self.account_id, self.partition)
            # No known format yet: the generic `service:region:account:kind/name` shape the plan always used, so
            # programs that pass such an ARN on still plan (see notes: give each such type its real format).
            state["arn"] = arn if arn is not None else self._generic_arn(typ, physical)

    def _generic_arn(self, typ: str, physical: str) -> str:
        service = typ.split(":")[1].split("/")[0]
        kind = "".join("-" + c.lower() if c.isupper() else c for c in typ.split(":")[-1]).lstrip("-")
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

    def __init__(self, mocks: Mocks, base_dir: Path | None = None) -> None:
        super().__init__(mocks)
        self._base_dir = base_dir or Path.cwd()
        self.not_expanded: list[NotExpanded] = []
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
        if request.type in EXPANDED or request.type in NOT_EXPANDABLE:
            self._expand(request, response.urn)
        return response

    def _expand(self, request: Any, urn: str) -> None:
        """Register what the provider would register inside a provider-side component (see infra.plan.expand)."""
        inputs = {k: _unwrap(v, k, set()) for k, v in _deserialize(request.object).items()}
        try:
            objects = expand(request.type, request.name, inputs, self._base_dir)
        except ExpansionError as exc:
            with self._lock:
                self.not_expanded.append(NotExpanded(urn, request.type, str(exc)))
            return
        project_stack, type_chain = urn.split("::")[0:2], urn.split("::")[2]
        for obj in objects:
            child_urn = "::".join([*project_stack, f"{type_chain}${obj.type}", obj.name])
            record = PlannedResource(
                urn=child_urn, type=obj.type, name=obj.name, custom=True, parent=urn, inputs=obj.object,
                outputs=obj.object, dependencies=(urn,), provider=request.provider or None,
                secret_keys=obj.secret_keys,
            )
            with self._lock:
                self.records.append(record)

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
