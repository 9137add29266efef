"""moto in server mode, in its own process, plus the few states moto cannot reach through the AWS API.

Run as `python tests/release/emulator.py --port PORT`. It serves moto's own WSGI application (what
`moto_server` serves) on 127.0.0.1 and adds test-only routes under `/_inject/` that set state on the running
server's backends, because moto lacks it:

* `/_inject/sagemaker/endpoint`: EndpointStatus, FailureReason, EndpointConfigName, LastModifiedTime of an
  endpoint (moto has no UpdateEndpoint, no deployment or rollback state, and endpoints are InService at once);
* `/_inject/sagemaker/pipeline-execution`: an execution's status and failure reason (moto's are Succeeded at
  once), and the steps that `ListPipelineExecutionSteps` returns for it (moto has no such call);
* `/_inject/sagemaker/pipeline-script`: what every execution of a pipeline reports, poll by poll: the n-th
  DescribePipelineExecution shows the n-th status (the last one sticks) and ListPipelineExecutionSteps the
  same poll's steps; the tool starts the execution itself, so its ARN is not known to the test beforehand;
* `/_inject/die-on`: the process exits the moment a request for the given `X-Amz-Target` arrives, so a
  command loses its emulator in the middle of its work.

Everything else is moto, over real HTTP, called by boto3 through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import io
import json
import os
from datetime import datetime
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response

DEFAULT_ACCOUNT = "123456789012"


class Injector:
    """WSGI middleware in front of moto's application."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.steps: dict[str, list[dict[str, Any]]] = {}
        self.die_on: set[str] = set()
        self.scripts: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in self.die_on:
            os._exit(3)  # the emulator goes away mid-command: no response, connection reset
        if path.startswith("/_inject/"):
            request = Request(environ)
            try:
                result = self._inject(path.removeprefix("/_inject/"), json.loads(request.get_data() or b"{}"))
                response = Response(json.dumps(result), status=200, content_type="application/json")
            except (KeyError, ValueError) as exc:
                response = Response(json.dumps({"error": repr(exc)}), status=400, content_type="application/json")
            return response(environ, start_response)
        if target in ("SageMaker.DescribePipelineExecution", "SageMaker.ListPipelineExecutionSteps"):
            request = Request(environ)
            arn = json.loads(request.get_data(cache=True) or b"{}").get("PipelineExecutionArn", "")
            environ["wsgi.input"] = io.BytesIO(request.get_data())
            script = self.scripts.get(arn.split(":pipeline/", 1)[-1].split("/execution/", 1)[0])
            if script is not None:
                return self._scripted(target, arn, script, environ, start_response)
            if target.endswith("Steps") and arn in self.steps:
                body = json.dumps({"PipelineExecutionSteps": self.steps[arn]})
                return Response(body, status=200, content_type="application/x-amz-json-1.1")(environ, start_response)
        return self.app(environ, start_response)

    def _scripted(self, target: str, arn: str, script: dict[str, Any], environ: dict[str, Any],
                  start_response: Any) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        if target.endswith("DescribePipelineExecution"):
            poll = self.polls[arn] = self.polls.get(arn, -1) + 1
            status = script["statuses"][min(poll, len(script["statuses"]) - 1)]
            backend = sagemaker_backends[DEFAULT_ACCOUNT]["us-east-1"]
            pipeline = backend.pipelines[arn.split(":pipeline/", 1)[1].split("/execution/", 1)[0]]
            pipeline.pipeline_executions[arn].pipeline_execution_status = status
            return self.app(environ, start_response)
        steps = script["steps"][min(self.polls.get(arn, 0), len(script["steps"]) - 1)]
        body = json.dumps({"PipelineExecutionSteps": steps})
        return Response(body, status=200, content_type="application/x-amz-json-1.1")(environ, start_response)

    def _inject(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[body.get("account_id", DEFAULT_ACCOUNT)][body.get("region", "us-east-1")]
        if what == "sagemaker/endpoint":
            endpoint = backend.endpoints[body["name"]]
            for key, value in body["set"].items():
                if key in ("creation_time", "last_modified_time"):
                    value = datetime.fromisoformat(value)
                setattr(endpoint, key, value)
            return {"ok": True}
        if what == "sagemaker/pipeline-execution":
            arn = body["arn"]
            pipeline = backend.pipelines[arn.split(":pipeline/", 1)[1].split("/execution/", 1)[0]]
            execution = pipeline.pipeline_executions[arn]
            if "status" in body:
                execution.pipeline_execution_status = body["status"]
            if "failure_reason" in body:
                execution.pipeline_execution_failure_reason = body["failure_reason"]
            if "steps" in body:
                self.steps[arn] = body["steps"]
            return {"ok": True}
        if what == "sagemaker/pipeline-script":
            self.scripts[body["pipeline"]] = {"statuses": body["statuses"], "steps": body["steps"]}
            return {"ok": True}
        if what == "die-on":
            self.die_on.add(body["target"])
            return {"ok": True}
        if what == "reset":
            self.steps.clear()
            self.die_on.clear()
            self.scripts.clear()
            self.polls.clear()
            return {"ok": True}
        raise KeyError(what)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = Injector(DomainDispatcherApplication(create_backend_app))
    run_simple("127.0.0.1", args.port, app, threaded=True)


if __name__ == "__main__":
    main()
