"""The retraining guard: the code of the Lambda function that stands between a drift alarm and a training run.

`guard` is the decision, pure; `handler` reads the event, asks `guard`, starts the pipeline. Like `model_code`, it
imports nothing from `infra` (it runs in Lambda with the standard library and boto3 only); the shared stack
packages this directory (infra/components/retrain_guard.py). See docs/monitoring.md.
"""
