"""Strict types: a bool is never a number, a list never a string, a duplicate key never silently wins; and the
CLI's string form of top-level scalars still parses."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, parse_stack_config

BASE = {"aws:region": "us-east-1", "mlops:environment": "dev"}
DEPLOY = {"target": "sagemaker", "approvedVersion": 3, "instanceType": "ml.m5.large"}


def parse(**raw: str):
    return parse_stack_config({**BASE, "mlops:models": json.dumps({"churn": {
                                                                             "deploy": DEPLOY}}), **raw})


def problems(**raw: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**raw)
    return caught.value.problems


def models(**deploy: object) -> str:
    return json.dumps({"churn": {"deploy": {**DEPLOY, **deploy}}})


@pytest.mark.parametrize(("deploy", "expected"), [
    ({"approvedVersion": True}, "mlops:models.churn.deploy.approvedVersion: Input should be a valid integer; got true"),
    ({"approvedVersion": "3"}, "mlops:models.churn.deploy.approvedVersion: Input should be a valid integer; got '3'"),
    ({"approvedVersion": 3.0}, "mlops:models.churn.deploy.approvedVersion: Input should be a valid integer"),
    ({"instanceCount": False}, "mlops:models.churn.deploy.instanceCount: Input should be a valid integer; got false"),
    ({"dataCapturePercent": True}, "mlops:models.churn.deploy.dataCapturePercent: Input should be a valid integer"),
    ({"alarms": {"serverErrors": True}}, "mlops:models.churn.deploy.alarms.serverErrors: Input should be a valid"),
    ({"instanceType": ["ml.m5.large"]}, "mlops:models.churn.deploy.instanceType: Input should be a valid string"),
])
def test_json_values_are_strict(deploy: dict, expected: str) -> None:
    found = problems(**{"mlops:models": models(**deploy)})
    assert any(expected in p for p in found), found


def test_a_list_or_number_never_becomes_a_tag_value() -> None:
    found = problems(**{"mlops:tags": json.dumps({"team": ["a", "b"], "tier": 1})})
    assert any("mlops:tags.team: Input should be a valid string" in p for p in found), found
    assert any("mlops:tags.tier: Input should be a valid string; got 1" in p for p in found), found


def test_a_yaml_list_for_a_string_key_is_refused_not_turned_into_json_text() -> None:
    # The CLI passes a YAML list given for `mlops:owner` as JSON text; it must not become the owner tag.
    (found,) = problems(**{"mlops:owner": '["a", "b"]'})
    assert found == 'mlops:owner: expected a single value, got a list; got ["a", "b"]'
    assert problems(**{"mlops:costCenter": '{"x": 1}'}) == [
        'mlops:costCenter: expected a single value, got a dict; got {"x": 1}']


def test_cli_string_forms_of_top_level_scalars_still_parse() -> None:
    config = parse(**{"mlops:protect": "true", "mlops:owner": "[team] platform", "mlops:accountId": "123456789012"})
    assert config.protect is True and config.owner == "[team] platform" and config.account_id == "123456789012"
    assert parse(**{"mlops:protect": "false"}).protect is False
    assert parse(**{"mlops:protect": "True"}).protect is True  # as the SDK's Config.get_bool reads it
    assert "mlops:protect: Input should be a valid boolean; got '1'" in problems(**{"mlops:protect": "1"})[0]
    assert "mlops:protect: Input should be a valid boolean; got 'yes'" in problems(**{"mlops:protect": "yes"})[0]


def test_empty_optional_keys_mean_unset_as_pulumi_yaml_declares_them() -> None:
    config = parse(**{"mlops:accountId": "", "mlops:githubOidcProvider": ""})
    assert config.account_id is None and config.github_oidc_provider is None
    assert any("mlops:owner: String should have at least 1 character" in p for p in problems(**{"mlops:owner": ""}))


def test_duplicate_json_keys_are_refused() -> None:
    text = '{"churn": {"deploy": {"target": "none"}}, "churn": {"deploy": {"target": "none"}}}'
    assert problems(**{"mlops:models": text}) == ["mlops:models: duplicate key(s) 'churn'"]


def test_deeply_nested_json_is_a_clear_error_not_a_recursion_error() -> None:
    (found,) = problems(**{"mlops:tags": "[" * 100_000 + "]" * 100_000})
    assert found == "mlops:tags: nested deeper than 32 levels"


def test_defaults_live_in_the_model_so_a_bare_stack_parses() -> None:
    config = parse()
    assert (config.kind, config.owner, config.cost_center) == ("environment", "ml-platform", "ml-0000")
    assert (config.shared_stack, config.github_repository) == ("organization/mlops/shared", "acme/ml-platform")
