"""Every lineage value a run records is one CreateModelPackage accepts.

The Register step records the GitCommit, DataSnapshot, TriggerReason, RawDataUri and RawDataSha256 parameters as the
package's CustomerMetadataProperties. Their values are passed when a run starts (release tool, schedule, retraining
guard), so no plan sees them, and a value out of the API's pattern fails the run at Register, hours later. The
pattern is read from botocore's copy of the SageMaker API model, not restated here.
"""

from __future__ import annotations

import re

import botocore.session
from aws_metadata import recordable
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.core.pipeline.spec import (
    LINEAGE_VALUE_MAX,
    LINEAGE_VALUE_PUNCTUATION,
    PARAM_DATA_SNAPSHOT,
    PARAM_TRIGGER_REASON,
    lineage_value,
    scheduled_data_snapshot,
)
from infra.plan.model import PlanResult
from retrain_guard import handler as guard_handler


def _api_value_shape() -> tuple[set[str], str, int, int]:
    """(Unicode categories, literal characters, min, max) of `CustomerMetadataValue` in botocore's model."""
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
    pattern = shape.metadata["pattern"]
    body = re.fullmatch(r"\(\[(.*)\]\*\)\$\{1,\d+\}", pattern)
    assert body, f"the API's pattern changed shape: {pattern!r}; revisit lineage_value"
    text = body.group(1)
    categories = set(re.findall(r"\\p\{(\w+)\}", text))
    literals = re.sub(r"\\p\{\w+\}", "", text)
    return categories, re.sub(r"\\(.)", r"\1", literals), shape.metadata["min"], shape.metadata["max"]


CATEGORIES, LITERALS, MIN, MAX = _api_value_shape()


def _accepted(value: str) -> bool:
    """Judged by the API's own pattern, evaluated as written (tests/infra/aws_metadata.py), not by a copy of
    lineage_value's logic."""
    return recordable(value)


def test_lineage_value_assumes_exactly_the_apis_alphabet_and_length() -> None:
    assert {"L", "Z", "N"} == CATEGORIES
    assert set(LITERALS) == set(LINEAGE_VALUE_PUNCTUATION) == set(guard_handler.LINEAGE_VALUE_PUNCTUATION)
    assert MAX == LINEAGE_VALUE_MAX == guard_handler.LINEAGE_VALUE_MAX


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=600))
def test_any_text_becomes_an_accepted_value_and_the_guard_agrees(text: str) -> None:
    value = lineage_value(text)
    assert _accepted(value), value
    assert guard_handler.lineage_value(text) == value  # the Lambda ships its own copy
    assert lineage_value(value) == value  # a recorded value passes through unchanged


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")) | st.sampled_from(LINEAGE_VALUE_PUNCTUATION),
               min_size=1, max_size=LINEAGE_VALUE_MAX))
def test_a_value_already_accepted_is_kept_as_it_is(text: str) -> None:
    assert lineage_value(text) == text


def test_what_people_and_events_write_keeps_its_words() -> None:
    assert lineage_value("hotfix (see #12), by ana") == "hotfix see 12 by ana"
    assert lineage_value("drift\n\tevent*?") == "drift event"
    assert lineage_value("(?)") == "unknown"
    assert lineage_value("ü" * 300) == "ü" * 256
    assert lineage_value("𝔡" * 200) == "𝔡" * 128  # outside the BMP: two UTF-16 units each, as the API counts
    assert scheduled_data_snapshot("s3://mlops-data/churn/raw/") == "scheduled: latest s3://mlops-data/churn/raw/raw.csv"


def test_the_schedules_lineage_parameters_are_accepted(plans: dict[str, PlanResult]) -> None:
    targets = [r.inputs for r in plans["shared"].resources if r.type == "aws:cloudwatch/eventTarget:EventTarget"
               and "sagemakerPipelineTarget" in r.inputs]
    assert targets, "the shared stack schedules training"
    for target in targets:
        parameters = {p["name"]: p["value"] for p in target["sagemakerPipelineTarget"]["pipelineParameterLists"]}
        assert {PARAM_DATA_SNAPSHOT, PARAM_TRIGGER_REASON} <= set(parameters)
        assert all(_accepted(v) for v in parameters.values()), parameters


def test_the_recorded_mlflow_run_keeps_server_and_run() -> None:
    """`infra.release log-experiment` records `<tracking uri> runs:/<id>` (a `#` there was refused by the API)."""
    server = "arn:aws:sagemaker:us-east-1:111111111111:mlflow-tracking-server/mlops-shared-mlflow"
    value = lineage_value(f"{server} runs:/{'a1' * 16}")
    assert value == f"{server} runs:/{'a1' * 16}" and _accepted(value)
    assert not _accepted(f"{server}#runs:/{'a1' * 16}")
