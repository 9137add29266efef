"""Issue 16 §1: the config refuses every cluster endpoint / CI runner combination the shipped workflows cannot reach,
and only those. Property-based: an independent oracle (address by address membership) against
`infra.core.cluster_access` over generated endpoints, CIDR sets and runners."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import ConfigError
from infra.core.cluster_access import is_github_hosted_label, reachability_problems, runner_problems

# Small networks inside 203.0.113.0/24 (TEST-NET-3) so that the oracle can enumerate every address.
SMALL_CIDR = st.builds(lambda host, prefix: str(ipaddress.ip_network(f"203.0.113.{host}/{prefix}", strict=False)),
                       st.integers(0, 255), st.integers(26, 32))


def admitted(cidr: str, allowed: list[str]) -> bool:
    """Oracle: every address the runner may leave from is admitted by some allowed CIDR."""
    networks = [ipaddress.ip_network(a) for a in allowed]
    return all(any(address in n for n in networks) for address in ipaddress.ip_network(cidr))


def reachable(endpoint: str, allowed: list[str], location: str, egress: list[str]) -> bool:
    if location == "vpc":
        return True  # inside the VPC the private endpoint answers, whatever the public one admits
    if endpoint == "private" or location == "github-hosted":
        return False
    return all(admitted(c, allowed) for c in egress)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(endpoint=st.sampled_from(["private", "public-restricted"]),
       allowed=st.lists(SMALL_CIDR, min_size=1, max_size=3),
       location=st.sampled_from(["github-hosted", "vpc", "fixed-egress"]),
       egress=st.lists(SMALL_CIDR, min_size=1, max_size=3))
def test_refused_exactly_when_the_runner_cannot_reach_the_endpoint(endpoint: str, allowed: list[str],
                                                                   location: str, egress: list[str]) -> None:
    egress = egress if location == "fixed-egress" else []
    problems = reachability_problems(endpoint, allowed, location, egress)
    assert (problems == []) == reachable(endpoint, allowed, location, egress)
    for problem in problems:  # one line, naming the keys to change
        assert "\n" not in problem and "cluster.ciRunner" in problem and "cluster.eks" in problem


@pytest.mark.parametrize(("label", "hosted"), [
    ("ubuntu-24.04", True), ("ubuntu-latest", True), ("windows-2025", True), ("macos-15", True),
    ("self-hosted", False), ("mlops-static-egress", False), ("ubuntu", False), ("linux", False),
])
def test_github_hosted_labels_are_recognised(label: str, hosted: bool) -> None:
    assert is_github_hosted_label(label) is hosted


@given(labels=st.lists(st.sampled_from(["ubuntu-24.04", "self-hosted", "linux", "mlops-prod"]), min_size=1,
                       max_size=3, unique=True),
       location=st.sampled_from(["github-hosted", "vpc", "fixed-egress"]),
       egress=st.lists(SMALL_CIDR, max_size=2))
def test_a_runner_is_what_its_labels_say(labels: list[str], location: str, egress: list[str]) -> None:
    problems = runner_problems(labels, location, egress)
    hosted = {label for label in labels if label == "ubuntu-24.04"}
    consistent = (hosted == set(labels)) if location == "github-hosted" else not hosted
    assert (problems == []) == (consistent and (location == "fixed-egress") == bool(egress))


def test_every_stack_states_a_reachable_combination() -> None:
    from infra.config import parse_stack_config
    from infra.plan.project import load_stack
    from infra.plan.runner import PROJECT_ROOT

    for env in ("dev", "staging", "prod"):
        cluster = parse_stack_config(load_stack(PROJECT_ROOT, env).config).cluster
        assert cluster is not None and cluster.eks is not None
        runner = cluster.ci_runner
        assert reachable(cluster.eks.endpoint_access, cluster.eks.public_endpoint_cidrs, runner.location,
                         runner.egress_cidrs), env


def test_the_refusal_is_a_config_error_naming_the_keys() -> None:
    import json

    from infra.config import parse_stack_config
    from infra.plan.project import load_stack
    from infra.plan.runner import PROJECT_ROOT

    raw = dict(load_stack(PROJECT_ROOT, "dev").config)
    cluster = json.loads(raw["mlops:cluster"])
    cluster["ciRunner"]["egressCidrs"] = ["192.0.2.0/28"]  # not admitted by publicEndpointCidrs
    raw["mlops:cluster"] = json.dumps(cluster)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert caught.value.problems == [
        "mlops:cluster: cluster.ciRunner.egressCidrs ['192.0.2.0/28'] are not inside cluster.eks.publicEndpointCidrs "
        "['198.51.100.0/24', '203.0.113.16/28']: the workflows' runner could not reach the public endpoint"]
