"""`smoke-test`: invoke every SageMaker endpoint of a stack with the model's sample payload and judge the answer.

The payload is the one the model code's preprocessing step writes as `sample_request.json` (the first test
rows of the deterministic data set, features only), computed here with the model code's own functions, so it
is what the serving container is built to accept. An answer passes when the call succeeds, the body parses as
the server's JSON (`{"predictions": [{"predicted_label": 0|1, "score": p}, ...]}`) with one prediction per
row and every score within [0, 1], and the round trip is within the latency budget: the model's
`alarms.latencyP99Ms` from the stack config (the latency the stack already declares acceptable), unless
`--latency-budget-ms` overrides it.
"""

from __future__ import annotations

import json
import math
import time
from functools import cache
from pathlib import Path
from typing import Any

from infra.release import stacks
from infra.release.aws import Aws
from infra.release.aws import body as read_body
from infra.release.errors import EXIT_VERDICT, AwsError, UsageError
from infra.release.outcome import Outcome

CONTENT_TYPE = "application/json"
ANSWER_LIMIT = 6 * 1024 * 1024
"""A bound far above any answer to the sample request (a few hundred bytes): a runaway body is a fault."""
MODEL_ERROR = "ModelError"
"""InvokeEndpoint's error when the model's container answered 4xx/5xx: a verdict on the release, unlike the other
errors (throttling, no such endpoint, unreachable AWS), which mean the test could not run. botocore reference:
https://docs.aws.amazon.com/botocore/latest/reference/services/sagemaker-runtime/client/exceptions/ModelError.html"""


@cache
def sample_request() -> tuple[bytes, int]:
    """The sample payload and its row count, exactly as `python -m model_code.data` writes it."""
    from model_code import data, synthetic

    X, y = synthetic.generate(synthetic.DEFAULT_ROWS, synthetic.DEFAULT_SEED)
    sample = data.split(X, y, synthetic.DEFAULT_SEED)["test"][0][: data.SAMPLE_ROWS]
    return data.sample_request_json(sample).encode(), len(sample)


def check_body(body: bytes, rows: int) -> str | None:
    """None if the body is a valid answer for `rows` rows, else what is wrong with it."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"the response is not JSON: {_preview(body)}"
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if not isinstance(predictions, list):
        return f"the response has no 'predictions' list: {_preview(body)}"
    if len(predictions) != rows:
        return f"the response has {len(predictions)} predictions for {rows} rows"
    for i, p in enumerate(predictions):
        score = p.get("score") if isinstance(p, dict) else None
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) \
                or not 0.0 <= score <= 1.0:
            return f"prediction {i}: score {score!r} is not a probability in [0, 1]"
        label = p.get("predicted_label")
        if type(label) is not int or label not in (0, 1):  # `true` and `1.0` equal 1 in Python, but are no label
            return f"prediction {i}: predicted_label {label!r} is not the integer 0 or 1"
    return None


def _preview(body: bytes) -> str:
    text = body[:80].decode("utf-8", "replace")
    return repr(text + ("..." if len(body) > 80 else ""))


def run(project_dir: Path, stack: str, budget_override_ms: int | None) -> Outcome:
    target = stacks.load(project_dir, stack)
    if target.config.kind != "environment":
        raise UsageError(f"--stack {stack}: the shared stack has no endpoints; smoke-test an environment stack")
    if budget_override_ms is not None and budget_override_ms < 1:
        raise UsageError(f"--latency-budget-ms must be >= 1, got {budget_override_ms}")
    aws = Aws(target.config.region)
    aws.client("sagemaker-runtime")  # built before the clock starts: the budget is for the endpoint, not boto3
    body, rows = sample_request()
    out = Outcome("smoke-test", data={"stack": stack, "rows": rows})
    results: list[dict[str, Any]] = []
    for model, deploy in target.config.sagemaker_models().items():
        name = target.naming.endpoint(model)
        budget = budget_override_ms or deploy.alarms.latency_p99_ms
        started = time.perf_counter()
        try:
            answer = aws.call("sagemaker-runtime", "invoke_endpoint", f"endpoint {name}",
                              read=read_body(ANSWER_LIMIT), EndpointName=name, ContentType=CONTENT_TYPE,
                              Accept=CONTENT_TYPE, Body=body)
            problem = check_body(answer, rows)
        except AwsError as exc:
            if exc.code != MODEL_ERROR:
                raise  # AWS refused or was unreachable: no verdict on the endpoint (exit 2)
            problem = str(exc)  # the model's own container answered with an error: that is the verdict
        elapsed_ms = (time.perf_counter() - started) * 1000
        if problem is None and elapsed_ms > budget:
            problem = f"took {elapsed_ms:.0f} ms, over the latency budget of {budget} ms"
        results.append({"model": model, "endpoint": name, "ok": problem is None, "latencyMs": round(elapsed_ms, 1),
                        "budgetMs": budget, "problem": problem})
        if problem is None:
            out.say(f"ok   {name} ({model}): {rows} predictions in [0, 1], {elapsed_ms:.0f} ms (budget {budget} ms)")
        else:
            out.say(f"FAIL {name} ({model}): {problem}")
            out.exit_code = EXIT_VERDICT
    if not results:
        out.say(f"stack {stack} serves no model on SageMaker; nothing to smoke-test")
    out.data["endpoints"] = results
    return out
