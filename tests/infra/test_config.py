"""Config validation: bad values and typos are rejected before any resource, all at once, by key path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import ConfigError, parse_stack_config
from infra.plan.runner import PROJECT_ROOT

BASE = {
    "aws:region": "us-east-1",
    "mlops:kind": "environment",
    "mlops:environment": "dev",
    "mlops:owner": "ml-platform",
    "mlops:costCenter": "ml-0000",
    "mlops:sharedStack": "organization/mlops/shared",
    "mlops:githubRepository": "acme/ml-platform",
}
SERVED = {"deploy": {"target": "sagemaker", "approvedVersion": 3,
                                             "instanceType": "ml.m5.large"}}
TRAINED = {"training": {"imageTag": "1.0.0", "servingImageTag": "1.0.0",
                                                "metricGate": {"metric": "auc", "threshold": 0.8}}}


def problems(**overrides: object) -> list[str]:
    raw = dict(BASE)
    raw.setdefault("mlops:models", json.dumps({"churn": SERVED}))
    for key, value in overrides.items():
        full = key.replace("__", ":")
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value if isinstance(value, str) else json.dumps(value)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    return caught.value.problems


def served(**deploy: object) -> dict:
    return {"churn": {**SERVED, "deploy": {**SERVED["deploy"], **deploy}}}


def test_valid_environment_config_parses_with_defaults() -> None:
    config = parse_stack_config({**BASE, "mlops:models": json.dumps({"churn": SERVED}), "mlops:protect": "true"})
    deploy = config.sagemaker_models()["churn"]
    assert config.protect is True
    assert deploy.rollout.strategy == "all-at-once" and deploy.alarms.latency_p99_ms == 1000


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"mlops__typo": "x"}, "mlops:typo: unknown key; allowed keys: accountId"),
        ({"aws__accessKey": "x"}, "aws:accessKey: not supported by this program"),
        ({"mlops__kind": "both"}, "mlops:kind: Input should be 'shared' or 'environment'; got 'both'"),
        ({"mlops__githubRepository": "acme/*"}, "mlops:githubRepository: String should match pattern"),
        ({"mlops__accountId": "12345"}, "mlops:accountId: String should match pattern"),
        ({"mlops__protect": "maybe"}, "mlops:protect: Input should be a valid boolean"),
        ({"mlops__models": "{not json"}, "mlops:models: not valid JSON"),
        ({"mlops__models": "{}"}, "mlops:models: Dictionary should have at least 1 item"),
        ({"aws__region": None}, "aws:region: required key is missing"),
        ({"mlops__models": served(rollout={"strategy": "canry"})},
         "mlops:models.churn.deploy.rollout.strategy: Input should be 'all-at-once', 'canary' or 'linear'; "
         "got 'canry'"),
        ({"mlops__models": served(rollout={"strategy": "canary"})},
         "mlops:models.churn.deploy.rollout: strategy 'canary' needs stepPercent"),
        ({"mlops__models": served(rollout={"strategy": "linear", "stepPercent": 80})},
         "mlops:models.churn.deploy.rollout.stepPercent: Input should be less than or equal to 50; got 80"),
        ({"mlops__models": served(rollout={"stratgy": "linear"})},
         "mlops:models.churn.deploy.rollout.stratgy: unknown key; allowed keys: maxExecutionSeconds, stepPercent"),
        ({"mlops__models": served(dataCapturePercent=150)},
         "mlops:models.churn.deploy.dataCapturePercent: Input should be less than or equal to 100; got 150"),
        ({"mlops__models": served(instanceType="m5.large")},
         "mlops:models.churn.deploy.instanceType: String should match pattern"),
        ({"mlops__models": served(approvedVersion=None)},
         "mlops:models.churn.deploy.approvedVersion: Input should be a valid integer; got null"),
        ({"mlops__models": served(serverless={"memorySizeMb": 2048})}, "set exactly one of instanceType or serverless"),
        ({"mlops__models": served(instanceType=None, serverless={}, rollout={"strategy": "canary", "stepPercent": 10})},
         "serverless endpoints support only rollout strategy 'all-at-once'"),
        ({"mlops__models": served(autoscaling={"minCapacity": 3, "maxCapacity": 2})},
         "mlops:models.churn.deploy.autoscaling: maxCapacity (2) must be >= minCapacity (3)"),
        ({"mlops__models": served(instanceCount=5, autoscaling={"minCapacity": 1, "maxCapacity": 2})},
         "instanceCount (5) must lie within autoscaling [1, 2]"),
        ({"mlops__models": served(target="lambda")},
         "mlops:models.churn.deploy.target: Input should be 'sagemaker', 'kubernetes' or 'none'; got 'lambda'"),
        ({"mlops__models": {"Churn Model": SERVED}},
         "mlops:models: the name 'Churn Model' is not allowed: String should match pattern '^[a-z][a-z0-9-]{1,19}$'"),
        ({"aws__assumeRoles": [{"roleArn": "deployer"}]}, "aws:assumeRoles.0.roleArn: String should match pattern"),
        ({"aws__assumeRoles": {"roleArn": "x"}}, "aws:assumeRoles: Input should be a valid list"),
        ({"mlops__models": {"churn": TRAINED}}, "models.churn.deploy is required in an environment stack"),
        ({"mlops__kind": "shared", "mlops__models": {"churn": SERVED}},
         "models.churn.training is required in a shared stack"),
        ({"mlops__kind": "shared", "mlops__models": {"churn": {**TRAINED, "training": {
            **TRAINED["training"], "useSpot": True}}}}, "useSpot is true, so maxWaitSeconds is required"),
        ({"mlops__kind": "shared", "mlops__models": {"churn": {**TRAINED, "training": {
            **TRAINED["training"], "imageTag": "latest"}}}}, "'latest' is a moving tag"),
        ({"mlops__kind": "shared", "mlops__models": {"churn": {**TRAINED, "training": {
            **TRAINED["training"], "schedule": "every week"}}}}, "mlops:models.churn.training.schedule"),
        ({"mlops__kind": "shared", "mlops__githubOidcProvider": "from-shared", "mlops__models": {"churn": TRAINED}},
         "githubOidcProvider: the shared stack creates the provider"),
        ({"mlops__network": {"subnetIds": ["subnet-0123456789abcdef0"]}},
         "give both subnetIds and securityGroupIds, or neither"),
    ],
)
def test_bad_input_is_named_with_key_path_value_and_what_is_allowed(overrides: dict, expected: str) -> None:
    found = problems(**overrides)
    assert any(expected in p for p in found), f"{expected!r} not in {found}"


def test_several_problems_are_reported_together() -> None:
    found = problems(mlops__typo="x", mlops__protect="maybe",
                     mlops__models=served(dataCapturePercent=-1, rollout={"strategy": "canry"}))
    assert len(found) == 4, found


def test_error_message_lists_every_problem_one_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({**BASE, "mlops:models": json.dumps(served(dataCapturePercent=101)), "mlops:x": "1"})
    header, *lines = str(caught.value).splitlines()
    assert header == "invalid stack configuration:"
    # One line per problem, each starting with the key path, and nothing else (no exception text or frames).
    assert lines == [f"  - {p}" for p in caught.value.problems] and len(lines) == 2
    assert sorted(line.split(":", 2)[1] for line in lines) == ["models.churn.deploy.dataCapturePercent", "x"]


def test_the_program_reports_bad_config_as_its_error_lines_only_on_stderr(tmp_path: Path) -> None:
    """Run the real program (through the offline plan CLI) on a broken stack file: exit 2, and stderr is the
    error, one line per problem, and nothing else (no traceback, no log noise)."""
    stack_file = tmp_path / "Pulumi.broken.yaml"
    config = {**BASE, "mlops:models": served(dataCapturePercent=101), "mlops:x": "1"}
    stack_file.write_text(json.dumps({"config": config}))  # JSON is YAML
    result = subprocess.run([sys.executable, "-m", "infra.plan", "--stack", "broken", "--stack-file",
                             str(stack_file), "--no-policy"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    header, *lines = result.stderr.splitlines()
    assert header == "error: invalid stack configuration:"
    assert len(lines) == 2 and all(line.startswith("  - mlops:") for line in lines), result.stderr


@pytest.mark.parametrize(("hyperparameters", "expected"), [
    ({"n_estimators": 300},
     "mlops:models.churn.training.hyperparameters.n_estimators: not a hyperparameter of algorithm 'linear'; "
     "allowed: C, class_weight, decision_threshold, max_iter, seed"),
    ({"algorithm": "gbt", "eta": 0.2},
     "mlops:models.churn.training.hyperparameters.eta: not a hyperparameter of algorithm 'gbt'; allowed: "),
    ({"algorithm": "xgboost"},
     "mlops:models.churn.training.hyperparameters.algorithm: unknown algorithm 'xgboost'; allowed: gbt, linear"),
    ({"algorithm": "gbt", "learning_rate": 0},
     "mlops:models.churn.training.hyperparameters.learning_rate: must be a number > 0.0 and <= 1.0; got 0"),
    ({"max_iter": True},
     "mlops:models.churn.training.hyperparameters.max_iter: must be an integer >= 1 and <= 100000; got true"),
    ({"max_iter": "500"},
     "mlops:models.churn.training.hyperparameters.max_iter: must be an integer >= 1 and <= 100000; got \"500\""),
    ({"class_weight": "auto"},
     "mlops:models.churn.training.hyperparameters.class_weight: must be one of \"none\", \"balanced\"; got \"auto\""),
])
def test_hyperparameters_are_checked_against_the_model_codes_contract(hyperparameters: dict, expected: str) -> None:
    """The Train step would exit with 'unknown hyperparameter'; the stack config says so at preview instead."""
    trained = {"churn": {**TRAINED, "training": {**TRAINED["training"], "hyperparameters": hyperparameters}}}
    found = problems(mlops__kind="shared", mlops__models=trained)
    assert any(p.startswith(expected) for p in found), found


def test_hyperparameters_the_contract_allows_parse() -> None:
    trained = {"churn": {**TRAINED, "training": {**TRAINED["training"], "hyperparameters": {
        "algorithm": "gbt", "max_iter": 300, "learning_rate": 0.1, "early_stopping": True,
        "sagemaker_program": "train"}}}}
    config = parse_stack_config({**BASE, "mlops:kind": "shared", "mlops:models": json.dumps(trained)})
    assert config.trained_models()["churn"].hyperparameter_strings()["early_stopping"] == "true"


def test_the_contract_is_read_from_the_model_codes_published_file_not_its_code() -> None:
    """The program must not import the model code's runtime (numpy, scikit-learn) to validate config."""
    import subprocess
    import sys
    code = ("import sys, infra.config, infra.core.training_contract as c; "
            "assert c.CONTRACT_FILE.name == 'hyperparameters.schema.json' and c.CONTRACT_FILE.is_file(); "
            "c.hyperparameter_problems({}); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('model_code', 'sklearn', 'numpy')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT)
