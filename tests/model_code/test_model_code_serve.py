"""The serving contract over real HTTP on 127.0.0.1: probes, predictions, every bad input, protocol edge
cases, settings from the environment, worker restarts and graceful SIGTERM shutdown."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from model_code import artifact, tabular
from model_code.schema import FEATURES

ROW = b"66,108.6,0.067,0.411,0,33.1,9,0"


def request(
    server, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def invoke(server, body: bytes, content_type: str | None, accept: str | None = None):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    return request(server, "POST", "/invocations", body, headers)


def raw_exchange(server, data: bytes, expect_responses: int = 1) -> bytes:
    """Send raw bytes and read until ``expect_responses`` complete responses arrived or the server closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while received.count(b"HTTP/1.") < expect_responses or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _complete(data: bytes) -> bool:
    head, sep, body = data.rpartition(b"HTTP/1.")[2].partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def csv_scores(body: bytes) -> tuple[list[int], list[float]]:
    rows = [line.split(",") for line in body.decode().splitlines()]
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


@pytest.fixture(scope="module")
def model(model_dir: Path) -> artifact.LoadedModel:
    return artifact.load(model_dir)


# ------------------------------------------------------------------------------------------- probes
def test_ping_like_sagemaker(server) -> None:
    status, _, body = request(server, "GET", "/ping")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_ping_like_a_kubernetes_http_probe(server) -> None:
    probe = (
        b"GET /ping HTTP/1.1\r\nHost: 10.0.0.12:8080\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\n"
        b"Connection: close\r\n\r\n"
    )
    response = raw_exchange(server, probe)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in response


def test_head_ping_has_no_body(server) -> None:
    response = raw_exchange(server, b"HEAD /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b""


def test_execution_parameters_reflect_settings(server) -> None:
    status, _, body = request(server, "GET", "/execution-parameters")
    assert status == 200
    assert json.loads(body) == {
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 1,
    }


# -------------------------------------------------------------------------------------- predictions
def test_sample_csv_request_matches_the_model(server, dataset_dir: Path, model) -> None:
    body = (dataset_dir / "sample_request.csv").read_bytes()
    status, headers, out = invoke(server, body, "text/csv")
    assert status == 200
    assert headers["content-type"] == "text/csv"
    labels, scores = csv_scores(out)
    X = tabular.read_channel(dataset_dir / "test", "test")[0][:3]
    assert scores == model.scores(X).tolist()  # exact: same float64 after the text round trip
    assert labels == (model.scores(X) >= model.threshold).astype(int).tolist()


def test_sample_json_request_matches_the_model(server, dataset_dir: Path, model) -> None:
    body = (dataset_dir / "sample_request.json").read_bytes()
    status, headers, out = invoke(server, body, "application/json")
    assert status == 200
    assert headers["content-type"] == "application/json"
    X = np.array(json.loads(body)["instances"], dtype=float)
    assert [p["score"] for p in json.loads(out)["predictions"]] == model.scores(X).tolist()


def test_batch_of_the_whole_test_channel(server, dataset_dir: Path, model) -> None:
    X, _ = tabular.read_channel(dataset_dir / "test", "test")
    body = (dataset_dir / "test" / "test.csv").read_text()
    features_only = "".join(line.split(",", 1)[1] + "\n" for line in body.splitlines()).encode()
    status, _, out = invoke(server, features_only, "text/csv; charset=utf-8")
    assert status == 200
    labels, scores = csv_scores(out)
    assert len(scores) == 900
    assert scores == model.scores(X).tolist()


def test_named_feature_objects(server, model) -> None:
    row = dict(zip(FEATURES, [66, 108.6, 0.067, 0.411, 0, 33.1, 9, 0], strict=True))
    status, _, out = invoke(server, json.dumps({"instances": [row, row]}).encode(), "application/json")
    assert status == 200
    preds = json.loads(out)["predictions"]
    assert len(preds) == 2 and preds[0] == preds[1]


@pytest.mark.parametrize(
    ("content_type", "body", "accept", "expected_type"),
    [
        ("application/json", b"[[66,108.6,0.067,0.411,0,33.1,9,0]]", "text/csv", "text/csv"),
        ("text/csv", ROW, "application/json", "application/json"),
        ("text/csv", ROW, "*/*", "text/csv"),
        ("text/csv", ROW, "application/xml;q=1, application/json;q=0.5", "application/json"),
    ],
)
def test_accept_is_honoured(server, content_type: str, body: bytes, accept: str, expected_type: str) -> None:
    status, headers, out = invoke(server, body, content_type, accept)
    assert status == 200
    assert headers["content-type"] == expected_type
    if expected_type == "application/json":
        assert len(json.loads(out)["predictions"]) == 1
    else:
        assert len(out.decode().splitlines()) == 1


def test_concurrent_clients_on_keep_alive_connections(server, model) -> None:
    rng = np.random.default_rng(1)
    X = np.round(rng.uniform(0, 50, size=(40, len(FEATURES))), 3)
    errors: list[str] = []

    def client(rows: np.ndarray) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for row in rows:
            conn.request(
                "POST",
                "/invocations",
                body=",".join(map(repr, row.tolist())),
                headers={"Content-Type": "text/csv"},
            )
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or csv_scores(data)[1] != model.scores(row[None, :]).tolist():
                errors.append(f"{resp.status} {data[:100]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(X[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


# --------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("content_type", "body", "status", "message"),
    [
        ("text/plain", ROW, 415, "unsupported content type: 'text/plain'; use text/csv or application/json"),
        (None, ROW, 415, "no Content-Type header"),
        ("text/csv", b"1,2,3", 400, "CSV row 1 has 3 values, expected 8 features"),
        (
            "application/json",
            b'{"instances": [[1,2,3]]}',
            400,
            "JSON row 1 has 3 values, expected 8 features",
        ),
        ("text/csv", b"66,abc,0.067,0.411,0,33.1,9,0", 400, "feature 2 ('income_k'): 'abc' is not a number"),
        ("application/json", b'[[66,"x",0.067,0.411,0,33.1,9,0]]', 400, "expected a number, got string 'x'"),
        ("text/csv", b"66,108.6,NaN,0.411,0,33.1,9,0", 400, "'NaN' is not a finite number"),
        ("text/csv", b"", 400, "request body is empty"),
        ("application/json", b"", 400, "request body is empty"),
        ("application/json", b'{"instances": [[1,2', 400, "body is not valid JSON"),
        ("text/csv", b"\xff\xfe\x00", 400, "not valid UTF-8"),
    ],
)
def test_bad_input_gets_4xx_with_a_message(
    server, content_type, body: bytes, status: int, message: str
) -> None:
    got, headers, out = invoke(server, body, content_type)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert message in json.loads(out)["error"]


def test_a_row_the_model_cannot_score_is_422_not_a_null_score(server) -> None:
    """debt_to_income 1e308 and credit_utilization -1e308: scaled to +inf and -inf, their sum is NaN."""
    body = ROW + b"\n1,1,1e308,-1e308,1,1,1,1\n" + ROW
    for content_type, data in (("text/csv", body), ("application/json", b"[[1,1,1e308,-1e308,1,1,1,1]]")):
        status, _, out = invoke(server, data, content_type)
        assert status == 422, out
        assert "the model cannot score row(s) " + ("2" if content_type == "text/csv" else "1") in json.loads(out)[
            "error"
        ]


def test_unacceptable_accept_is_406(server) -> None:
    status, _, out = invoke(server, ROW, "text/csv", "application/xml")
    assert status == 406
    assert "cannot answer in Accept 'application/xml'" in json.loads(out)["error"]


def test_oversized_body_is_413(server) -> None:
    body = (ROW + b"\n") * (1_100_000 // (len(ROW) + 1))  # > 1 MiB limit set via SAGEMAKER_MAX_PAYLOAD_IN_MB
    status, headers, out = invoke(server, body, "text/csv")
    assert status == 413
    assert "the limit is 1048576 bytes" in json.loads(out)["error"]


def test_oversized_content_length_is_refused_before_the_body_is_sent(server) -> None:
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 50000000\r\n\r\n"
    )
    response = raw_exchange(server, head)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in response


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/invocations", 405), ("POST", "/ping", 405), ("GET", "/predict", 404), ("DELETE", "/", 404)],
)
def test_wrong_route_or_method(server, method: str, path: str, status: int) -> None:
    got, _, out = request(server, method, path)
    assert got == status
    assert json.loads(out)["error"]


# ------------------------------------------------------------------------------------ HTTP features
def test_chunked_request_body(server, model) -> None:
    body = ROW + b"\n" + ROW
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    raw = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    response = raw_exchange(server, raw)
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert len(response.partition(b"\r\n\r\n")[2].splitlines()) == 2


def test_expect_100_continue(server) -> None:
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(ROW)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(ROW)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 OK")


def test_pipelined_requests_are_answered_in_order(server) -> None:
    csv_req = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s"
        % (
            len(ROW),
            ROW,
        )
    )
    ping = b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    response = raw_exchange(server, csv_req + ping, expect_responses=2)
    first, second = response.split(b"HTTP/1.1 ")[1:3]
    assert first.startswith(b"200") and b"text/csv" in first
    assert second.startswith(b"200") and b'{"status":"ok"}' in second


def test_http_1_0_closes_after_the_response(server) -> None:
    response = raw_exchange(server, b"GET /ping HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in response


# ---------------------------------------------------------------------------- settings and process
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_workers_and_model_dir_from_the_sagemaker_environment(spawn_server, model_dir: Path) -> None:
    port = _free_port()
    srv = spawn_server(
        None,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
        SM_MODEL_DIR=str(model_dir),
    )
    assert srv.port == port
    assert len(srv.worker_pids()) == 1
    status, _, body = request(srv, "GET", "/execution-parameters")
    assert json.loads(body)["MaxConcurrentTransforms"] == 1
    assert json.loads(body)["MaxPayloadInMB"] == 6  # SageMaker's default limit
    assert invoke(srv, ROW, "text/csv")[0] == 200


def test_a_killed_worker_is_replaced(spawn_server, model_dir: Path) -> None:
    srv = spawn_server(model_dir, "--workers", "2")
    victim = srv.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    srv.wait_for(rf"worker {victim} exited unexpectedly")
    for _ in range(10):  # each new connection goes to the next worker, so both are exercised
        assert invoke(srv, ROW, "text/csv")[0] == 200
    pids = srv.worker_pids()
    assert len(pids) == 2 and victim not in pids


def test_sigterm_drains_in_flight_requests_then_exits_0(spawn_server, model_dir: Path) -> None:
    srv = spawn_server(model_dir, "--workers", "2")
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n"
        % len(ROW)
    )
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall(head)  # the request is in flight: headers sent, body not yet
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=30)  # an idle keep-alive client
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_for(r"received SIGTERM; draining 2 worker\(s\)")
        assert idle.recv(1) == b""  # idle connections are closed at once
        idle.close()
        sock.sendall(ROW)
        response = b""
        while chunk := sock.recv(65536):  # the response arrives, then the server closes the connection
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert srv.proc.wait(timeout=30) == 0
    assert "stopped" in srv.log_text()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()


def test_unloadable_model_fails_fast_without_opening_the_port(tmp_path: Path, run_main) -> None:
    meta = {"format_version": 1, "feature_names": list(FEATURES), "threshold": 0.5}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    result = run_main("model_code.serve", "--model-dir", str(tmp_path), "--host", "127.0.0.1", "--port", "0")
    assert result.returncode == 2
    assert f"model directory {tmp_path} has no model.joblib" in result.stderr
    assert "listening" not in result.stderr
    missing = run_main("model_code.serve", "--model-dir", str(tmp_path / "nope"), "--port", "0")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def _workers_bound() -> str:
    from model_code.serve import WORKERS_PER_CPU, usable_cpus

    return f"an integer from 1 to {WORKERS_PER_CPU * usable_cpus()} ({WORKERS_PER_CPU} x {usable_cpus()} usable CPUs)"


WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
PAYLOAD = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
GRACE = "MODEL_SERVER_GRACEFUL_TIMEOUT"
KEEPALIVE = "MODEL_SERVER_KEEPALIVE_TIMEOUT"
PORT = "SAGEMAKER_BIND_TO_PORT"
BAD_SETTINGS = [
    (WORKERS, "many"),
    (WORKERS, "0"),
    (WORKERS, "100000"),  # forked ~3,000 processes before the bound existed
    (WORKERS, "1e3"),
    (WORKERS, "2.0"),
    (WORKERS, "-1"),
    (WORKERS, "\uff12"),  # full-width 2
    (WORKERS, "1_0"),
    (WORKERS, "nan"),
    (PAYLOAD, "nan"),
    (PAYLOAD, "inf"),
    (PAYLOAD, "-inf"),
    (PAYLOAD, "1e300"),
    (PAYLOAD, "0"),
    (PAYLOAD, "-1"),
    (PAYLOAD, "101"),
    (PAYLOAD, "1e-9"),
    (PAYLOAD, "6MB"),
    (GRACE, "nan"),
    (GRACE, "inf"),
    (GRACE, "1e300"),
    (GRACE, "-1"),
    (KEEPALIVE, "nan"),
    (KEEPALIVE, "inf"),
    (KEEPALIVE, "0"),
    (KEEPALIVE, "1e300"),
    (PORT, "80.5"),
    (PORT, "65536"),
    (PORT, "-1"),
    (PORT, "nan"),
    (PORT, "\u0668\u0660"),  # Arabic-Indic 80
]


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
def test_bad_environment_is_refused_at_start_naming_the_variable(
    monkeypatch, run_main, model_dir: Path, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    port = [] if variable == PORT else ["--port", "0"]  # the option would win over the variable
    result = run_main("model_code.serve", "--model-dir", str(model_dir), "--host", "127.0.0.1", *port)
    assert result.returncode == 2
    allowed = {
        WORKERS: _workers_bound(),
        PAYLOAD: "a number > 0 and <= 100 (MB)",
        GRACE: "a number from 0 to 3600 seconds",
        KEEPALIVE: "a number from 1 to 3600 seconds",
        PORT: "an integer from 0 to 65535",
    }[variable]
    if value == "1e-9":
        assert f"{variable} must be at least one byte, got '1e-9'" in result.stderr
    else:
        assert f"{variable} must be {allowed}, got {value!r}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "listening" not in result.stderr


def test_workers_option_is_bounded_too(run_main, model_dir: Path) -> None:
    result = run_main("model_code.serve", "--model-dir", str(model_dir), "--workers", "100000", "--port", "0")
    assert result.returncode == 2
    assert "--workers must be " + _workers_bound() + ", got '100000'" in result.stderr


def test_port_in_use_is_a_clear_error(run_main, model_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_main(
            "model_code.serve", "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port)
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_serve_entry_point_script(child_env) -> None:
    import subprocess
    import sys

    script = Path(artifact.__file__).parent / "bin" / "serve"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        env=child_env(PYTHON=sys.executable),
        timeout=60,
    )
    assert result.returncode == 0
    assert "python -m model_code.serve" in result.stdout and "SAGEMAKER_MODEL_SERVER_WORKERS" in result.stdout
