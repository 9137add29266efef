"""boto3 clients with explicit retries and timeouts, and the one wrapper every AWS call goes through.

`AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by boto3 itself, which is
how the tests point the tool at an emulator. `AWS_MAX_ATTEMPTS` overrides the retry budget, with the meaning
every AWS SDK gives it: the total number of attempts, the first one included (botocore's `total_max_attempts`;
its `max_attempts` counts retries only, one fewer: botocore/config.py, `Config.retries`).

Every AWS call and the reading of its answer are one guarded unit (`Aws.call(..., read=...)`): a refused call,
a transport failure, an answer botocore cannot parse, a streamed body cut short, or an answer whose fields are
missing or of the wrong type all end as one `AwsError` line naming the call and the resource (exit 1).
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.session
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader
from botocore.parsers import ResponseParserError

from infra.release.errors import AwsError

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
INVOKE_READ_TIMEOUT_SECONDS = 65
"""SageMaker gives a real-time invocation 60 s; a little more so its own timeout error reaches us."""
DEFAULT_MAX_ATTEMPTS = 4
T = TypeVar("T")


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
        retries={"total_max_attempts": _max_attempts(), "mode": "standard"},
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
            client = self._session.client(service, config=client_config(timeout))
            client.meta.events.register("before-parse", check_answer)
            self._clients[service] = client
        return self._clients[service]

    def call(self, service: str, operation: str, resource: str, *, read: Callable[[dict[str, Any]], T] | None = None,
             **kwargs: Any) -> Any:
        """`read(client.operation(**kwargs))` (the answer itself without `read`); any failure of the call or of
        the read becomes one AwsError line naming call and resource."""
        return guarded(getattr(self.client(service), operation), _api_name(service, operation), resource,
                       read=read, **kwargs)


def check_answer(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore hook (`before-parse`): refuse a successful answer that was cut short or is not JSON where the
    protocol promises JSON. botocore's JSON parser turns an unparsable body into an empty answer
    (`BaseJSONParser._parse_body_as_json` keeps it only as `message`), which would read as "nothing found"."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or operation_model.has_streaming_output or not isinstance(body, bytes):
        return
    headers = {k.lower(): v for k, v in (response_dict.get("headers") or {}).items()}
    length = headers.get("content-length")
    head = operation_model.http.get("method") == "HEAD"  # a HEAD answer announces the length of a body it omits
    if length is not None and length.isdigit() and int(length) != len(body) and not head \
            and "content-encoding" not in headers:
        raise ValueError(f"the answer was cut short ({len(body)} of {length} bytes)")
    if operation_model.service_model.resolved_protocol in ("json", "rest-json") and body.strip():
        try:
            json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"the answer is not JSON ({body[:40]!r})") from None


def guarded(method: Callable[..., Any], api: str, resource: str, *, read: Callable[[Any], Any] | None = None,
            **kwargs: Any) -> Any:
    try:
        answer = method(**kwargs)
        if not isinstance(answer, dict):
            raise TypeError(f"expected a JSON object, got {type(answer).__name__}")
        return answer if read is None else read(answer)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = " ".join(str(error.get("Message") or "").split()) or "no message"
        raise AwsError(f"{api} on {resource} failed: {code}: {message}", code) from None
    except BotoCoreError as exc:
        # Connection refused, timeouts, no credentials, no region: boto3 already retried what it could.
        raise AwsError(f"{api} on {resource} failed: {' '.join(str(exc).split())}") from None
    except (ResponseParserError, *MALFORMED) as exc:
        # botocore could not parse the answer, or the answer lacks what the call promises (a field missing,
        # of the wrong type, a body that is not what it should be, a stream cut short).
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise AwsError(f"{api} on {resource} failed: malformed answer ({type(exc).__name__}: {detail})") from None


MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, UnicodeDecodeError, OSError,
             urllib3.exceptions.HTTPError, http.client.HTTPException)
"""What reading an answer raises when the answer is not what the call promises (or its stream breaks)."""


def _api_name(service: str, operation: str) -> str:
    """`sagemaker`, `describe_endpoint` -> `sagemaker:DescribeEndpoint` (as IAM and CloudTrail spell it)."""
    prefix = "sagemaker" if service.startswith("sagemaker") else service
    return f"{prefix}:{''.join(part.capitalize() for part in operation.split('_'))}"


def expect(answer: dict[str, Any], key: str, kind: type | tuple[type, ...] = str, *, required: bool = True) -> Any:
    """`answer[key]` checked against `kind` (inside a `read`, so a wrong answer is a guarded AwsError)."""
    if key not in answer or answer[key] is None:
        if required:
            raise KeyError(f"no {key} in the answer")
        return None
    value = answer[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)) \
            or not isinstance(value, kind):
        raise TypeError(f"{key} is {type(value).__name__} {str(value)[:40]!r}, not {getattr(kind, '__name__', kind)}")
    return value


def body(limit: int) -> Callable[[dict[str, Any]], bytes]:
    """A `read` for a streamed answer (S3 GetObject, InvokeEndpoint): its body, at most `limit` bytes."""

    def read(answer: dict[str, Any]) -> bytes:
        stream, chunks, size = answer["Body"], [], 0
        while chunk := stream.read(min(64 * 1024, limit + 1 - size)):
            chunks.append(chunk)  # an empty chunk ends the loop: botocore then checks the Content-Length
            size += len(chunk)
            if size > limit:
                raise ValueError(f"the body is larger than {limit} bytes")
        return b"".join(chunks)

    return read
