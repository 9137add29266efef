"""boto3 clients with explicit retries and timeouts, and the one wrapper every AWS call goes through.

`AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by boto3 itself, which is
how the tests point the tool at an emulator. `AWS_MAX_ATTEMPTS` overrides the retry budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader

from infra.release.errors import AwsError

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
INVOKE_READ_TIMEOUT_SECONDS = 65
"""SageMaker gives a real-time invocation 60 s; a little more so its own timeout error reaches us."""
DEFAULT_MAX_ATTEMPTS = 4


def _max_attempts() -> int:
    raw = os.environ.get("AWS_MAX_ATTEMPTS", str(DEFAULT_MAX_ATTEMPTS))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from infra.release.errors import UsageError

        raise UsageError(f"AWS_MAX_ATTEMPTS must be a whole number >= 1, got {raw!r}")
    return value


def client_config(read_timeout: int = READ_TIMEOUT_SECONDS) -> Config:
    """Standard-mode retries (throttling, 5xx, connection errors) and bounded timeouts."""
    return Config(
        retries={"max_attempts": _max_attempts(), "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        user_agent_extra="mlops-release",
    )


_LOADER: Loader | None = None


def _session(region: str) -> boto3.Session:
    """A fresh session (credentials and endpoints resolved anew) sharing one loader of the service models,
    which is most of the cost of building a client when several commands run in one process."""
    global _LOADER
    if _LOADER is None:
        _LOADER = create_loader()
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region)


@dataclass
class Aws:
    """Lazily built clients of one region (one session, so one credential resolution)."""

    region: str
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                self._session = _session(self.region)
            timeout = INVOKE_READ_TIMEOUT_SECONDS if service == "sagemaker-runtime" else READ_TIMEOUT_SECONDS
            self._clients[service] = self._session.client(service, config=client_config(timeout))
        return self._clients[service]

    def call(self, service: str, operation: str, resource: str, **kwargs: Any) -> dict[str, Any]:
        """`client.operation(**kwargs)`; any failure becomes one AwsError line naming call and resource."""
        return guarded(getattr(self.client(service), operation), _api_name(service, operation), resource, **kwargs)


def guarded(method: Callable[..., Any], api: str, resource: str, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = " ".join(str(error.get("Message") or "").split()) or "no message"
        raise AwsError(f"{api} on {resource} failed: {code}: {message}", code) from None
    except BotoCoreError as exc:
        # Connection refused, timeouts, no credentials, no region: boto3 already retried what it could.
        raise AwsError(f"{api} on {resource} failed: {' '.join(str(exc).split())}") from None


def _api_name(service: str, operation: str) -> str:
    """`sagemaker`, `describe_endpoint` -> `sagemaker:DescribeEndpoint` (as IAM and CloudTrail spell it)."""
    prefix = "sagemaker" if service.startswith("sagemaker") else service
    return f"{prefix}:{''.join(part.capitalize() for part in operation.split('_'))}"
