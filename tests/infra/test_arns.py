"""ARNs and the shared stack's identity have one home each (`infra.core.arns`, `Naming.of_stack`): a stack in
another partition gets that partition's ARNs everywhere, and renaming the shared stack moves every party that
names its resources together."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.config import parse_stack_config
from infra.core import ack, bucket_layout
from infra.core.arns import PARTITION_REGIONS, Arns, packages_of_group, partition_of
from infra.core.naming import Naming
from infra.manifests import pull_overlays
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT, plan_stack
from infra.release import stacks as release_stacks

PROGRAM = PROJECT_ROOT / "infra"
ARN = re.compile(r"arn:([A-Za-z0-9-]*):")
BOTOCORE = botocore.session.get_session()


def botocore_partition(region: str) -> str | None:
    try:
        return BOTOCORE.get_partition_for_region(region)
    except Exception:  # noqa: BLE001 - botocore's UnknownRegionError: no partition holds the region
        return None


def our_partition(region: str) -> str | None:
    try:
        return partition_of(region)
    except ValueError:
        return None


# -- the partition table against botocore's resolver --------------------------------------------------------------
def test_every_region_botocore_knows_is_in_the_same_partition_here() -> None:
    regions = {region for p in BOTOCORE.get_available_partitions()
               for region in BOTOCORE.get_available_regions("sagemaker", p)}
    assert {"us-gov-west-1", "cn-north-1", "us-east-1"} <= regions
    assert {r: our_partition(r) for r in regions} == {r: botocore_partition(r) for r in regions}
    assert set(PARTITION_REGIONS) == set(BOTOCORE.get_available_partitions())


@given(st.from_regex(r"\A(us|eu|cn|ap|eusc|xx|gov)(-(gov|iso|isob|isoe|isof|de|east|west|north|[a-z]{1,5}))+-\d{1,2}\Z"))
def test_a_region_that_does_not_exist_yet_falls_in_the_partition_botocore_would_give_it(region: str) -> None:
    assert our_partition(region) == botocore_partition(region)


def test_an_unknown_region_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="region 'xx-nowhere-1' is in no AWS partition"):
        partition_of("xx-nowhere-1")


@given(st.sampled_from(sorted(PARTITION_REGIONS)), st.from_regex(r"\A\d{12}\Z"),
       st.from_regex(r"\A[a-z][a-z0-9-]{0,30}\Z"))
def test_every_arn_kind_starts_with_its_partition(partition: str, account: str, name: str) -> None:
    arns = Arns(partition, "somewhere-1", account)
    built = [arns.role(name), arns.account_root(), arns.oidc_provider(name), arns.service_linked_roles(name),
             arns.managed_policy(name), arns.eks_access_policy(name), arns.bucket(name), arns.objects(name, "*"),
             arns.s3_uri_objects(f"s3://{name}/p/"), arns.sagemaker(name), arns.model_package_group(name),
             arns.model_package(name, 3), arns.kms(f"alias/{name}"), arns.log_groups(f"/{name}")]
    assert all(arn.startswith(f"arn:{partition}:") for arn in built)
    assert packages_of_group(arns.model_package_group(name)) == arns.model_package(name)


# -- a whole stack in GovCloud and in China -----------------------------------------------------------------------
def _project_copy(tmp: Path, edit) -> Path:
    """Pulumi.yaml and stacks/ of this project in `tmp`, each file passed through `edit(name, text)`."""
    (tmp / "stacks").mkdir(parents=True)
    (tmp / "Pulumi.yaml").write_text(edit("Pulumi.yaml", (PROJECT_ROOT / "Pulumi.yaml").read_text()))
    for path in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"):
        name = edit(path.name, None) or path.name
        (tmp / "stacks" / name).write_text(edit(path.name, path.read_text()))
    return tmp


def _in_region(region: str, partition: str):
    def edit(name: str, text: str | None) -> str | None:
        if text is None:
            return None
        # The stack files' own ARNs (admin roles) are the user's: in that partition they say so.
        return re.sub(r"aws:region: \S+", f"aws:region: {region}", text).replace("arn:aws:", f"arn:{partition}:")
    return edit


def _arns_in(plan: PlanResult) -> dict[str, set[str]]:
    """Resource name -> the partitions of every ARN in its inputs and outputs."""
    found: dict[str, set[str]] = {}
    for resource in plan.resources:
        text = json.dumps([resource.inputs, resource.outputs], default=repr)  # a Lambda code archive is an asset
        found[resource.name] = set(ARN.findall(text))
    return {name: partitions for name, partitions in found.items() if partitions}


@pytest.fixture(scope="module", params=[("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")],
                ids=["govcloud", "china"])
def elsewhere(request, tmp_path_factory) -> tuple[str, dict[str, PlanResult]]:
    region, partition = request.param
    project = _project_copy(tmp_path_factory.mktemp(partition), _in_region(region, partition))
    shared = plan_stack("shared", project, program_dir=PROGRAM)
    references = {"organization/mlops/shared": shared.outputs}
    return partition, {"shared": shared, **{s: plan_stack(s, project, program_dir=PROGRAM,
                                                        stack_references=references) for s in ("dev", "prod")}}


@pytest.mark.parametrize("stack", ["shared", "dev", "prod"])
def test_a_stack_in_another_partition_writes_that_partition_in_every_arn(elsewhere, stack: str) -> None:
    partition, plans = elsewhere
    found = _arns_in(plans[stack])
    assert found, "the plan holds ARNs"
    wrong = {name: partitions for name, partitions in found.items() if partitions != {partition}}
    assert not wrong, f"ARNs outside {partition}: {wrong}"


def test_the_deploy_role_may_manage_the_oidc_provider_of_the_cluster_it_creates(elsewhere) -> None:
    """The EKS issuer's host ends in the partition's DNS suffix (`amazonaws.com.cn` in China, as the issuers in
    aws/aws-sdk-js-v3#5083 and terraform-aws-modules/terraform-aws-eks#1704 show), and so must the scope."""
    _, plans = elsewhere
    dev = plans["dev"]
    cluster_provider = next(r for r in dev.resources if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
                            and "oidc.eks." in r.outputs["arn"])
    deploy = next(r for r in dev.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == "ci-deploy")
    scope = {s["Sid"]: s for s in json.loads(deploy.inputs["policy"])["Statement"]}["ManageClusterOidcProvider"]
    assert any(fnmatch.fnmatchcase(cluster_provider.outputs["arn"], pattern) for pattern in scope["Resource"])


def test_the_pulled_endpoints_objects_are_in_the_regions_partition() -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    deploy = config.pulled_sagemaker_models()["churn"]
    for region, partition in (("us-gov-east-1", "aws-us-gov"), ("cn-northwest-1", "aws-cn"), ("us-east-1", "aws")):
        facts = ack.PullFacts(environment="dev", region=region, account_id="222222222222",
                              shared_account_id="111111111111", shared_region=region,
                              capture_kms_key_arn=f"arn:{partition}:kms:{region}:111111111111:key/k",
                              shared_stack=config.shared_stack, monitor_image_tag="1.4.0")
        objects = ack.expected_objects(Naming("mlops", "dev"), "churn", deploy, facts)
        text = json.dumps(objects)
        assert set(ARN.findall(text)) == {partition}
        # The monitor's image is in the shared account's ECR, under the partition's DNS suffix.
        image = objects["DataQualityJobDefinition"]["spec"]["dataQualityAppSpecification"]["imageURI"]
        suffix = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}[partition]
        assert image == f"111111111111.dkr.ecr.{region}.{suffix}/mlops-shared-churn-serving:1.4.0"


# -- renaming the shared stack --------------------------------------------------------------------------------------
def _renamed(name: str, text: str | None) -> str | None:
    if text is None:
        return "Pulumi.registry.yaml" if name == "Pulumi.shared.yaml" else None
    return text.replace("default: organization/mlops/shared", "default: organization/mlops/registry")


def test_renaming_the_shared_stack_moves_push_pull_and_the_ack_controllers_scope_together(tmp_path: Path) -> None:
    project = _project_copy(tmp_path, _renamed)
    group = Naming("mlops", "registry").package_group("churn")
    # Push: staging pins a version of the renamed stack's package group (through the stack reference).
    staging = plan_stack("staging", project, program_dir=PROGRAM)
    models = [r for r in staging.resources if r.type == "aws:sagemaker/model:Model"]
    assert models and all(f":model-package/{group}/" in m.inputs["primaryContainer"]["modelPackageName"]
                          for m in models)
    # The ACK controller of dev may read exactly the renamed stack's packages.
    dev = plan_stack("dev", project, program_dir=PROGRAM)
    policy = next(r for r in dev.resources
                  if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == "ack-sagemaker")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    expected = f"arn:aws:sagemaker:us-east-1:*:model-package/{group}/*"
    assert statements["ReadRegisteredPackages"]["Resource"] == [expected]
    # The pull overlay's objects name the renamed stack's package group and capture bucket.
    config = parse_stack_config(load_stack(project, "dev").config)
    facts = pull_overlays.facts(config, PROJECT_ROOT / "gitops" / "dev" / "churn", project)
    objects = ack.expected_objects(Naming("mlops", "dev"), "churn", config.pulled_sagemaker_models()["churn"], facts)
    assert f":model-package/{group}/" in objects["Model"]["spec"]["primaryContainer"]["modelPackageName"]
    capture = objects["EndpointConfig"]["spec"]["dataCaptureConfig"]["destinationS3URI"]
    assert capture.startswith(f"s3://{Naming('mlops', 'registry').bucket('capture', '111111111111')}/")
    # The release tool finds the same stack.
    assert release_stacks.load_shared(project).name == "registry"


def test_the_release_tool_refuses_a_shared_stack_the_environments_do_not_name(tmp_path: Path) -> None:
    def half_renamed(name: str, text: str | None) -> str | None:
        return _renamed(name, text) if text is None else text  # the file is renamed, sharedStack is not
    project = _project_copy(tmp_path, half_renamed)
    with pytest.raises(release_stacks.UsageError, match="mlops:sharedStack names 'shared'.*registry"):
        release_stacks.load_shared(project)



# -- the bucket layout ---------------------------------------------------------------------------------------------
@given(st.from_regex(r"\A[a-z][a-z0-9-]{1,19}\Z"), st.from_regex(r"\A[a-z][a-z0-9-]{1,19}\Z"))
def test_each_models_raw_data_lies_under_its_own_prefix_and_the_release_tools_pattern(model: str, other: str) -> None:
    """What the release tool reads (the raw file's version) is inside the pipeline role's and the CI role's scope,
    and outside every other model's."""
    key = bucket_layout.raw_data_key(model)
    assert key.startswith(bucket_layout.raw_data_prefix(model)) and key.startswith(bucket_layout.model_prefix(model))
    assert fnmatch.fnmatchcase(key, f"{bucket_layout.raw_data_prefix('*')}*")
    if other != model:
        assert not key.startswith(bucket_layout.model_prefix(other))


@given(st.from_regex(r"\A[A-Za-z0-9_.-]{1,20}\Z"), st.from_regex(r"\A[A-Za-z0-9_.-]{1,20}\Z"),
       st.from_regex(r"\A[A-Za-z0-9_.-]{1,20}\Z"))
def test_a_fully_qualified_stack_name_gives_that_projects_and_stacks_names(org: str, project: str, stack: str) -> None:
    assert Naming.of_stack(f"{org}/{project}/{stack}") == Naming(project, stack)


@pytest.mark.parametrize("name", ["shared", "mlops/shared", "a/b/c/d", "org//shared", "/mlops/shared", ""])
def test_a_stack_name_that_is_not_org_project_stack_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="expected a fully qualified stack name org/project/stack"):
        Naming.of_stack(name)


def test_the_manifest_check_refuses_a_region_no_partition_holds_in_one_line(tmp_path: Path) -> None:
    project = _project_copy(tmp_path, _in_region("xx-nowhere-1", "aws"))
    config = parse_stack_config(load_stack(project, "dev").config)
    with pytest.raises(pull_overlays.OverlayError, match="region 'xx-nowhere-1' is in no AWS partition"):
        pull_overlays.facts(config, PROJECT_ROOT / "gitops" / "dev" / "churn", project)
