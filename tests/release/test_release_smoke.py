"""`smoke-test` against the emulator. moto's InvokeEndpoint answers from a queue of results posted to
`/moto-api/static/sagemaker/endpoint-results` (it runs no model), so each test queues the body the endpoint
answers; what is tested is the request the tool sends and how it judges the answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from release_cli import release, release_text

from infra.release.smoke import sample_request
from model_code import payload
from model_code.schema import FEATURES


def _answer(emulator, body: bytes | str, content_type: str = "application/json") -> None:
    text = body.decode() if isinstance(body, bytes) else body
    emulator.post("/moto-api/static/sagemaker/endpoint-results",
                  {"results": [{"Body": text, "ContentType": content_type}]})


def _model_answer(scores: list[float]) -> bytes:
    """What the model server answers (model_code.payload's own formatter)."""
    values = np.array(scores)
    return payload.format_json((values >= 0.5).astype(np.int64), values)


def test_the_sample_payload_is_what_the_server_parses():
    body, rows = sample_request()
    X = payload.parse_json(body, FEATURES)
    assert X.shape == (rows, len(FEATURES)) == (3, 8)
    assert json.loads(body)["instances"][0] == [float(v) if not float(v).is_integer() else int(v) for v in X[0]]


def test_a_good_answer_within_budget_passes(emulator, project, capsys):
    _answer(emulator, _model_answer([0.1, 0.7, 0.0036]))
    code, text, err = release_text(capsys, project, "smoke-test", "--stack", "dev")
    assert (code, err) == (0, "")
    assert text.startswith("ok   mlops-dev-churn (churn): 3 predictions in [0, 1], ")
    assert "(budget 1000 ms)" in text  # dev's alarms.latencyP99Ms default


def test_wrong_bodies_fail_with_what_is_wrong(emulator, project, capsys):
    cases = [
        ("body", "the response is not JSON: 'body'"),
        ('{"error": "CSV row 1 has 3 values"}', "the response has no 'predictions' list"),
        (_model_answer([0.1, 0.2]), "the response has 2 predictions for 3 rows"),
        ('{"predictions": [{"predicted_label": 1, "score": 1.5}, {"predicted_label": 0, "score": 0.1}, '
         '{"predicted_label": 0, "score": 0.1}]}', "prediction 0: score 1.5 is not a probability in [0, 1]"),
        ('{"predictions": [{"predicted_label": 2, "score": 0.5}, {"predicted_label": 0, "score": 0.1}, '
         '{"predicted_label": 0, "score": 0.1}]}', "prediction 0: predicted_label 2 is not the integer 0 or 1"),
    ]
    for body, problem in cases:
        emulator.reset()  # moto remembers the answer to an identical request; start from an empty queue
        _answer(emulator, body)
        code, doc, _ = release(capsys, project, "smoke-test", "--stack", "dev")
        assert code == 1, body
        assert doc["endpoints"][0]["problem"].startswith(problem), (body, doc["endpoints"][0]["problem"])


def test_latency_over_budget_fails(emulator, project, capsys):
    _answer(emulator, _model_answer([0.1, 0.7, 0.2]))
    code, doc, _ = release(capsys, project, "smoke-test", "--stack", "dev", "--latency-budget-ms", "1")
    assert code == 1 and "over the latency budget of 1 ms" in doc["endpoints"][0]["problem"]


def test_prod_budget_comes_from_its_alarm_config(emulator, project, capsys):
    _answer(emulator, _model_answer([0.1, 0.7, 0.2]))
    code, doc, _ = release(capsys, project, "smoke-test", "--stack", "prod")
    [result] = doc["endpoints"]
    assert result["budgetMs"] == 250 and result["endpoint"] == "mlops-prod-churn"
    # On a loaded machine the emulator itself may take longer than prod's budget; then that is the verdict.
    assert (code, result["problem"]) == (0, None) or result["problem"].endswith("over the latency budget of 250 ms")


def test_unreachable_endpoint_is_one_clear_line(emulator, project, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, out, err = release(capsys, project, "smoke-test", "--stack", "dev")
    assert code == 2 and out["ok"] is False and err.count("\n") == 1  # no verdict: the endpoint was never asked
    assert out["error"] == err.split(": error: ", 1)[1].strip()
    assert err.startswith("infra.release smoke-test: error: sagemaker:InvokeEndpoint on endpoint mlops-dev-churn "
                          "failed: Could not connect to the endpoint URL")


def _invoke_fails_with(monkeypatch, code: str | None) -> None:
    from infra.release import smoke
    from infra.release.errors import AwsError

    def call(self, service, operation, resource, **kwargs):
        raise AwsError(f"sagemaker:InvokeEndpoint on {resource} failed: {code}: boom", code)

    monkeypatch.setattr(smoke.Aws, "call", call)


def test_the_models_own_error_is_a_verdict_other_failures_are_not(project, capsys, monkeypatch):
    """Exit 1 is a verdict on the release (the container answered 4xx/5xx); an AWS refusal is exit 2 (no verdict)."""
    _invoke_fails_with(monkeypatch, "ModelError")
    code, doc, _ = release(capsys, project, "smoke-test", "--stack", "dev")
    assert code == 1 and "ModelError: boom" in doc["endpoints"][0]["problem"]
    for other in ("ThrottlingException", "ValidationError", None):
        _invoke_fails_with(monkeypatch, other)
        code, doc, err = release(capsys, project, "smoke-test", "--stack", "dev")
        assert code == 2 and doc["ok"] is False and err.count("\n") == 1, other


@pytest.mark.parametrize("label", ["true", "false", "1.0", "0.0", '"1"', "null", "[1]"])
def test_a_label_that_only_equals_0_or_1_fails(emulator, project, capsys, label):
    """JSON `true` or `1.0` compare equal to 1 in Python, but the server promises the integer label."""
    rows = sample_request()[1]
    body = '{"predictions": [' + ", ".join([f'{{"predicted_label": {label}, "score": 0.5}}'] * rows) + "]}"
    _answer(emulator, body)
    code, text, _ = release_text(capsys, project, "smoke-test", "--stack", "dev")
    assert code == 1 and f"predicted_label {json.loads(label)!r} is not the integer 0 or 1" in text
