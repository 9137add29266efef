"""Policy config files: the CLI's reconciliation semantics, and strict rejection of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_factory import PACK_DIR, PlanBuilder, of, pack, secure_bucket

from infra.plan.policy_config import PolicyConfigError, default_policy_config_path, load_policy_config
from infra.plan.verdict import evaluate

ENVIRONMENTS = ("shared", "dev", "staging", "prod")


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _error(tmp_path: Path, content: object) -> PolicyConfigError:
    path = _write(tmp_path, content)
    with pytest.raises(PolicyConfigError) as caught:
        load_policy_config(pack(), path)
    assert str(path) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_configs_are_valid_and_complete(env: str) -> None:
    path = default_policy_config_path(PACK_DIR, env)
    assert path == PACK_DIR / "config" / f"{env}.json"
    config = load_policy_config(pack(), path)
    assert sorted(config) == sorted(p.name for p in pack().policies)
    assert all(settings["enforcementLevel"] in ("advisory", "mandatory") for settings in config.values())


def test_prod_is_fully_mandatory_and_dev_relaxes_some_rules() -> None:
    prod = load_policy_config(pack(), default_policy_config_path(PACK_DIR, "prod"))
    dev = load_policy_config(pack(), default_policy_config_path(PACK_DIR, "dev"))
    assert {s["enforcementLevel"] for s in prod.values()} == {"mandatory"}
    assert dev["s3-versioning-enabled"]["enforcementLevel"] == "advisory"
    assert dev["s3-public-access-blocked"]["enforcementLevel"] == "mandatory"
    assert dev["sagemaker-data-capture"]["requireDataCapture"] is False
    assert prod["sagemaker-data-capture"] == {
        "enforcementLevel": "mandatory",
        "requireDataCapture": True,
        "minSamplingPercent": 20,
        "requireCaptureEncryption": True,
        "requiredCaptureModes": ["Input", "Output"],
    }


def test_no_file_gives_the_pack_defaults(tmp_path: Path) -> None:
    config = load_policy_config(pack(), None)
    assert {s["enforcementLevel"] for s in config.values()} == {"advisory"}
    assert config["aws-required-tags"]["requiredTags"] == [
        "environment",
        "owner",
        "cost-center",
        "managed-by",
    ]


@pytest.mark.parametrize("content", ["", "  \n", "{}", " { } "])
def test_an_empty_file_is_an_error_not_the_pack_defaults(tmp_path: Path, content: str) -> None:
    # Read as "no settings", an empty file would make every rule advisory: a silent weakening.
    with pytest.raises(PolicyConfigError, match="is empty|names no rule"):
        load_policy_config(pack(), _write(tmp_path, content))


def test_all_then_rule_precedence(tmp_path: Path) -> None:
    config = load_policy_config(
        pack(),
        _write(tmp_path, {"s3-tls-only": "advisory", "all": "mandatory", "kms-key-rotation": "disabled"}),
    )
    assert config["s3-tls-only"]["enforcementLevel"] == "advisory"
    assert config["kms-key-rotation"]["enforcementLevel"] == "disabled"
    assert config["ecr-scan-on-push"]["enforcementLevel"] == "mandatory"


def test_disabled_rule_does_not_run_and_advisory_does_not_block(tmp_path: Path) -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    b.resources.remove(parts["versioning"])
    plan = b.plan()
    disabled = load_policy_config(
        pack(), _write(tmp_path, {"all": "mandatory", "s3-versioning-enabled": "disabled"})
    )
    assert of(evaluate(pack(), plan, disabled), "s3-versioning-enabled") == []
    advisory = load_policy_config(pack(), _write(tmp_path, {"s3-versioning-enabled": "advisory"}))
    [violation] = of(evaluate(pack(), plan, advisory), "s3-versioning-enabled")
    assert violation.enforcement == "advisory"


def test_unknown_rule_is_named_with_a_suggestion(tmp_path: Path) -> None:
    error = _error(tmp_path, {"s3-versioning": "mandatory"})
    assert 'unknown rule "s3-versioning"; did you mean "s3-versioning-enabled"?' in str(error)


def test_unknown_key_is_named_with_the_allowed_keys(tmp_path: Path) -> None:
    error = _error(tmp_path, {"sagemaker-data-capture": {"minSamplingPct": 20}})
    assert '"sagemaker-data-capture": unknown key "minSamplingPct"; allowed keys: enforcementLevel, ' in str(
        error
    )
    assert "minSamplingPercent" in str(error)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (
            {"minSamplingPercent": "twenty"},
            '"sagemaker-data-capture"."minSamplingPercent": got "twenty" (string); expected an integer',
        ),
        ({"minSamplingPercent": 150}, "got 150 (integer); expected an integer between 0 and 100"),
        ({"requireDataCapture": "yes"}, '"requireDataCapture": got "yes" (string); expected a boolean'),
    ],
)
def test_wrong_type_is_named_with_value_and_expectation(
    tmp_path: Path, settings: dict, fragment: str
) -> None:  # type: ignore[type-arg]
    error = _error(tmp_path, {"sagemaker-data-capture": settings})
    assert fragment in str(error)


def test_wrong_item_type_in_a_list(tmp_path: Path) -> None:
    error = _error(tmp_path, {"sagemaker-instance-cost-guard": {"allowedInstanceTypes": ["ml.m5.large", 5]}})
    assert (
        '"sagemaker-instance-cost-guard"."allowedInstanceTypes"[1]: got 5 (integer); expected a string'
        in str(error)
    )


@pytest.mark.parametrize(
    "content",
    [
        {"s3-tls-only": "strict"},
        {"s3-tls-only": {"enforcementLevel": "blocking"}},
        {"all": "strict"},
        {"all": {"enforcementLevel": 3}},
    ],
)
def test_wrong_enforcement_level(tmp_path: Path, content: dict) -> None:  # type: ignore[type-arg]
    error = _error(tmp_path, content)
    assert "is not one of advisory, mandatory, remediate, disabled" in str(error)


def test_other_malformed_files(tmp_path: Path) -> None:
    assert "not valid JSON" in str(_error(tmp_path, "{oops"))
    assert "must be a JSON object" in str(_error(tmp_path, ["s3-tls-only"]))
    assert "must be an enforcement level" in str(_error(tmp_path, {"s3-tls-only": 1}))
    assert "only an enforcement level may be set for all rules" in str(
        _error(tmp_path, {"all": {"enforcementLevel": "advisory", "x": 1}})
    )
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_policy_config(pack(), tmp_path / "missing.json")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    error = _error(
        tmp_path,
        {
            "nope": "mandatory",
            "s3-tls-only": "strict",
            "kms-key-rotation": {"maxRotationPeriodDays": "1y", "x": 1},
        },
    )
    assert len(error.problems) == 4
