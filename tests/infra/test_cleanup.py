"""`python -m infra.cleanup` against moto in server mode on a loopback port: it deletes retained generations
no endpoint can return to, and keeps the one in use, the newest ones, and every model they name."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from infra import cleanup
from infra.core.naming import Naming

NAMING = Naming(project="mlops", stack="prod")
ROLE = "arn:aws:iam::123456789012:role/mlops-prod-churn-serving"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def sagemaker(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("sagemaker", region_name="us-east-1")
    # moto keeps state per server: start each test from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    return client


def digest(n: int) -> str:
    return f"{n:010x}"


def make_generation(client, model: str, version: int, n: int, naming: Naming = NAMING) -> tuple[str, str]:
    """One release: a model and the endpoint configuration naming it (tagged as the program tags them)."""
    tags = [{"Key": "model", "Value": model}]
    primary = naming.sagemaker_model(model, version, digest(n))
    client.create_model(ModelName=primary, ExecutionRoleArn=ROLE, Tags=tags, PrimaryContainer={
        "ModelPackageName": f"arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-shared-{model}/{version}"})
    config = naming.endpoint_config(model, digest(n))
    client.create_endpoint_config(EndpointConfigName=config, Tags=tags, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": primary, "InitialInstanceCount": 4, "InstanceType": "ml.c5.xlarge"}])
    time.sleep(0.01)  # distinct creation times
    return config, primary


def names(client) -> tuple[set[str], set[str]]:
    return ({c["EndpointConfigName"] for c in client.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]},
            {m["ModelName"] for m in client.list_models(MaxResults=100)["Models"]})


def test_after_a_rollback_the_configuration_in_use_and_the_newest_are_kept(sagemaker, capsys) -> None:
    gen1 = make_generation(sagemaker, "churn", 1, 1)
    gen2 = make_generation(sagemaker, "churn", 2, 2)
    gen3 = make_generation(sagemaker, "churn", 3, 3)  # SageMaker rolled back to this one
    gen4 = make_generation(sagemaker, "churn", 4, 4)  # the failed release `pulumi up` made last
    sagemaker.create_endpoint(EndpointName=NAMING.endpoint("churn"), EndpointConfigName=gen3[0])
    other_stack = make_generation(sagemaker, "churn", 1, 5, naming=Naming(project="mlops", stack="staging"))
    untagged = NAMING.endpoint_config("churn", digest(6))
    sagemaker.create_endpoint_config(EndpointConfigName=untagged, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": gen1[1], "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])

    assert cleanup.main(["--stack", "prod", "--keep", "1", "--dry-run"]) == 0
    before = names(sagemaker)
    assert gen1[0] in before[0] and "would delete mlops-prod-churn-0000000001" in capsys.readouterr().out

    assert cleanup.main(["--stack", "prod", "--keep", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["models"]
    assert [m["model"] for m in report] == ["churn"]  # fraud is served on Kubernetes in prod
    configs, models = names(sagemaker)
    assert configs == {gen3[0], gen4[0], other_stack[0], untagged}
    assert models == {gen3[1], gen4[1], other_stack[1]}
    assert report[0]["in_use"] == [gen3[0]]
    assert set(report[0]["delete_configs"]) == {gen1[0], gen2[0]}
    assert set(report[0]["delete_models"]) == {gen1[1], gen2[1]}
    # The endpoint still stands on a configuration that exists, naming a model that exists.
    endpoint = sagemaker.describe_endpoint(EndpointName=NAMING.endpoint("churn"))
    described = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert described["ProductionVariants"][0]["ModelName"] in models


def test_keep_counts_the_newest_unused_generations(sagemaker, capsys) -> None:
    generations = [make_generation(sagemaker, "churn", v, v) for v in range(1, 5)]
    sagemaker.create_endpoint(EndpointName=NAMING.endpoint("churn"), EndpointConfigName=generations[3][0])
    assert cleanup.main(["--stack", "prod", "--keep", "2"]) == 0
    assert names(sagemaker)[0] == {generations[1][0], generations[2][0], generations[3][0]}


def test_without_an_endpoint_the_newest_generation_survives(sagemaker) -> None:
    generations = [make_generation(sagemaker, "churn", v, v) for v in range(1, 3)]
    assert cleanup.main(["--stack", "prod", "--keep", "1"]) == 0
    assert names(sagemaker) == ({generations[1][0]}, {generations[1][1]})


@pytest.mark.parametrize(("argv", "message"), [
    (["--stack", "prod", "--keep", "0"], "--keep must be at least 1"),
    (["--stack", "nosuch"], "no such stack file"),
])
def test_bad_input_is_exit_2_with_one_line(argv: list[str], message: str, capsys) -> None:
    assert cleanup.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_aws_refusal_is_exit_2_not_a_verdict(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cleanup.main(["--stack", "prod"]) == 2
    assert "infra.cleanup: AWS refused" in capsys.readouterr().err


def test_shadow_variants_keep_their_models() -> None:
    # moto does not model shadow variants, so this reads an answer shaped as the API reference documents it.
    described = {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "mlops-prod-churn-v3-a"}],
                 "ShadowProductionVariants": [{"VariantName": "Shadow", "ModelName": "mlops-prod-churn-shadow-v4-b"}]}
    assert cleanup.referenced_models(described) == {"mlops-prod-churn-v3-a", "mlops-prod-churn-shadow-v4-b"}


def test_patterns_come_from_naming_and_match_only_this_models_names() -> None:
    config, model = cleanup.config_pattern(NAMING, "churn"), cleanup.model_pattern(NAMING, "churn")
    assert config.match(NAMING.endpoint_config("churn", "0123456789"))
    assert not config.match(NAMING.endpoint_config("churn-v2", "0123456789"))
    assert not config.match(Naming("mlops", "staging").endpoint_config("churn", "0123456789"))
    assert model.match(NAMING.sagemaker_model("churn", 12, "abcdef0123"))
    assert model.match(NAMING.sagemaker_model("churn", 4, "abcdef0123", "shadow"))
    assert not model.match(NAMING.endpoint_config("churn", "0123456789"))
