"""The contract between the planned training pipeline and the model code's training entry point.

For each model of the shared stack, read the Train step of the planned pipeline definition (the JSON the
program hands to SageMaker) and run the real entry point the way SageMaker would: the image's `train`
command, no arguments, channels under /opt/ml/input/data/<channel> named as the step names them, the step's
exact HyperParameters in /opt/ml/input/config/hyperparameters.json, the model written to /opt/ml/model. The
/opt/ml root is a temporary directory (`MODEL_CODE_OPT_ML`, the one override the model code allows).
A pipeline that passes something the model code rejects fails here, not on the first real training run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from planned import one, stack_models

from infra.plan.model import PlanResult
from infra.plan.runner import PROJECT_ROOT
from model_code import data, synthetic

TRAIN_COMMAND = PROJECT_ROOT / "model_code" / "bin" / "train"
SHARED_MODELS = sorted(m for m, spec in stack_models("shared").items() if spec.get("training"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Preprocess step writes: the train/validation/test splits of the raw data."""
    out = tmp_path_factory.mktemp("splits")
    X, y = synthetic.generate()
    data.write_dataset(out, X, y, synthetic.DEFAULT_SEED)
    return out


def train_step(plan: PlanResult, model: str) -> dict:
    definition = json.loads(one(plan, "aws:sagemaker/pipeline:Pipeline", model).inputs["pipelineDefinition"])
    (step,) = [s for s in definition["Steps"] if s["Name"] == "Train"]
    return step["Arguments"]


def fake_training_job(root: Path, dataset: Path, arguments: dict) -> Path:
    """/opt/ml as SageMaker lays it out for this Train step."""
    opt_ml = root / "opt_ml"
    for channel in arguments["InputDataConfig"]:
        name = channel["ChannelName"]
        shutil.copytree(dataset / name, opt_ml / "input" / "data" / name)
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(arguments["HyperParameters"]))
    return opt_ml


@pytest.mark.parametrize("model", SHARED_MODELS)
def test_the_training_entry_point_accepts_what_the_planned_pipeline_passes(
        plans: dict[str, PlanResult], dataset: Path, tmp_path: Path, model: str) -> None:
    arguments = train_step(plans["shared"], model)
    assert "ContainerEntrypoint" not in arguments["AlgorithmSpecification"]  # SageMaker runs the image's `train`
    opt_ml = fake_training_job(tmp_path, dataset, arguments)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), PYTHON=sys.executable, MODEL_CODE_OPT_ML=str(opt_ml))
    result = subprocess.run([str(TRAIN_COMMAND)], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=300, check=False)
    failure = opt_ml / "output" / "failure"
    assert result.returncode == 0, (failure.read_text() if failure.exists() else "") + result.stderr[-2000:]
    assert any((opt_ml / "model").iterdir()), "no model written to /opt/ml/model"
    # SageMaker scrapes the job's metrics from its log with the step's metric definitions: each must match.
    for metric in arguments["AlgorithmSpecification"]["MetricDefinitions"]:
        assert re.search(metric["Regex"], result.stdout), f"{metric['Name']} not in the training log"
