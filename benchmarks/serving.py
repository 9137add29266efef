"""Serving benchmark: ``model_code.serve`` against MLServer on the same model, machine and load generator.

    .venv/bin/python benchmarks/serving.py [--workers 2] [--concurrency 8] [--duration 5] [--uvicorn] [--candidates]

Steps, all in one run: generate the data set and train the model (deterministic), time the model's own
``predict_proba`` (the floor), then for each server start it on 127.0.0.1 with the same number of workers,
check that it returns the same scores as the model in-process, and drive it with the same closed-loop
generator (``serving_loadgen``) for 1-row and 100-row requests. Prints a Markdown table (and ``--json-out``).

Loopback only; every load phase is bounded by ``--duration`` seconds and ``--max-requests``; servers are
stopped with SIGTERM at the end. MLServer runs from its own virtualenv (``serving_mlserver.ensure_venv``);
``--uvicorn`` (uvicorn 0.54.0 with httptools 0.9.0, as in the project's environment) and ``--candidates``
(gunicorn 26.2.0) run from this one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import serving_loadgen  # noqa: E402
import serving_mlserver  # noqa: E402

from model_code import artifact, data, synthetic  # noqa: E402
from model_code import train as training  # noqa: E402
from model_code.hyperparams import Hyperparameters  # noqa: E402

HOST = "127.0.0.1"
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Target:
    """One server and payload format under test; ``body`` builds the request body for a batch of rows."""

    server: str
    payload: str
    port: int
    path: str
    content_type: str
    body: Callable[[np.ndarray], bytes]


@dataclass
class Scenario:
    server: str
    payload: str
    rows: int
    result: serving_loadgen.LoadResult

    def as_dict(self) -> dict[str, object]:
        r = self.result
        return {
            "server": self.server,
            "payload": self.payload,
            "rows": self.rows,
            "requests": r.requests,
            "errors": r.errors,
            "seconds": round(r.seconds, 3),
            "rps": round(r.rps, 1),
            "p50_ms": round(r.percentile_ms(50), 3),
            "p99_ms": round(r.percentile_ms(99), 3),
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def http_post(port: int, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": content_type},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        if http_get(port, path) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"server not ready on port {port} after {timeout:g} s")


@contextlib.contextmanager
def running(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, port: int, ready: str, pass_fds: tuple[int, ...] = ()
) -> Iterator[None]:
    """Start a server in its own process group, wait for ``ready``; always stop it (SIGTERM, then SIGKILL)."""
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        try:
            wait_ready(port, ready, proc)
            yield
        except Exception:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this script created for the server
                    proc.wait()


def measure_floor(
    model: artifact.LoadedModel, X: np.ndarray, rows: int, seconds: float = 2.0
) -> dict[str, float]:
    """Median time of the model's own ``predict_proba`` call on ``rows`` rows, single-threaded, in-process."""
    from threadpoolctl import threadpool_limits

    batch = np.ascontiguousarray(X[:rows])
    times: list[int] = []
    with threadpool_limits(1):
        for _ in range(200):
            model.estimator.predict_proba(batch)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and len(times) < 200_000:
            t0 = time.perf_counter_ns()
            model.estimator.predict_proba(batch)
            times.append(time.perf_counter_ns() - t0)
    arr = np.asarray(times, dtype=np.float64) / 1e3
    return {
        "rows": rows,
        "p50_us": round(float(np.median(arr)), 1),
        "p99_us": round(float(np.percentile(arr, 99)), 1),
        "calls_per_s_per_core": round(1e6 / float(np.median(arr)), 0),
    }


def csv_body(X: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X).encode()


def json_body(X: np.ndarray) -> bytes:
    return json.dumps({"instances": X.tolist()}).encode()


def check_same_scores(name: str, got: np.ndarray, want: np.ndarray) -> None:
    if got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=1e-12):
        raise RuntimeError(f"{name} returned different scores than the model in-process")


def start_model_code(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    work: Path,
    model_dir: Path,
    env: dict[str, str],
    X: np.ndarray,
    want: np.ndarray,
) -> list[Target]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "model_code.serve",
        "--model-dir",
        str(model_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    stack.enter_context(running(cmd, env, ROOT, work / "model_code.log", port, "/ping"))
    _, body = http_post(port, "/invocations", json_body(X[:100]), "application/json")
    check_same_scores(
        "model_code.serve", np.array([p["score"] for p in json.loads(body)["predictions"]]), want
    )
    return [
        Target("model_code.serve", "csv", port, "/invocations", "text/csv", csv_body),
        Target("model_code.serve", "json", port, "/invocations", "application/json", json_body),
    ]


def start_mlserver(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    work: Path,
    model_dir: Path,
    env: dict[str, str],
    X: np.ndarray,
    want: np.ndarray,
    parallel_workers: int,
) -> list[Target]:
    exe = serving_mlserver.ensure_venv(Path(args.mlserver_venv))
    port, grpc_port = free_port(), free_port()
    repo = work / f"mlserver-{parallel_workers}"
    serving_mlserver.write_repository(
        repo, model_dir / artifact.MODEL_FILE, port, grpc_port, parallel_workers
    )
    name = f"MLServer 1.7.1 (parallel_workers={parallel_workers})"
    stack.enter_context(
        running(
            [str(exe), "start", str(repo)],
            env,
            repo,
            work / f"mlserver-{parallel_workers}.log",
            port,
            serving_mlserver.ready_path(),
        )
    )
    path = serving_mlserver.infer_path()
    _, body = http_post(port, path, serving_mlserver.request_body(X[:100]), "application/json")
    check_same_scores(name, serving_mlserver.scores_from_response(body), want)
    return [Target(name, "v2-json", port, path, "application/json", serving_mlserver.request_body)]


def start_gunicorn(
    stack: contextlib.ExitStack, args: argparse.Namespace, work: Path, model_dir: Path, env: dict[str, str]
) -> list[Target]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        "1",
        "--keep-alive",
        "75",
        "--preload",
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(ROOT / "benchmarks"),
        "serving_wsgi:application",
    ]
    stack.enter_context(
        running(cmd, {**env, "BENCH_MODEL_DIR": str(model_dir)}, ROOT, work / "gunicorn.log", port, "/ping")
    )
    return [Target("gunicorn gthread + WSGI (candidate)", "csv", port, "/invocations", "text/csv", csv_body)]


def start_uvicorn(
    stack: contextlib.ExitStack, args: argparse.Namespace, work: Path, model_dir: Path, env: dict[str, str]
) -> list[Target]:
    """uvicorn (httptools parser, asyncio loop, no access log) running the bare ASGI app of ``serving_asgi``.

    uvicorn is handed a listening socket (``--fd``) with ``TCP_NODELAY`` set, which accepted connections
    inherit on Linux. With ``--workers`` > 1 and its own socket, uvicorn's workers re-create the socket from its
    descriptor, asyncio then does not recognise it as TCP and leaves Nagle's algorithm on, and every response
    (written as head, then body) waits ~40 ms for the client's delayed ACK: measured 87 req/s, p50 48 ms with
    2 workers. That is a deployment detail, not uvicorn's speed, so it is measured at its best here.
    """
    import uvicorn

    listener = socket.create_server((HOST, 0), backlog=2048)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stack.callback(listener.close)
    port = listener.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--fd",
        str(listener.fileno()),
        "--workers",
        str(args.workers),
        "--http",
        "httptools",
        "--loop",
        "asyncio",
        "--no-access-log",
        "--lifespan",
        "off",
        "--timeout-keep-alive",
        "75",
        "--app-dir",
        str(ROOT / "benchmarks"),
        "serving_asgi:app",
    ]
    stack.enter_context(
        running(
            cmd,
            {**env, "BENCH_MODEL_DIR": str(model_dir)},
            ROOT,
            work / "uvicorn.log",
            port,
            "/ping",
            pass_fds=(listener.fileno(),),
        )
    )
    name = f"uvicorn {uvicorn.__version__} + httptools, bare ASGI"
    return [
        Target(name, "csv", port, "/invocations", "text/csv", csv_body),
        Target(name, "json", port, "/invocations", "application/json", json_body),
    ]


def run_rounds(targets: list[Target], X: np.ndarray, args: argparse.Namespace) -> list[Scenario]:
    """Interleave the servers (A, B, A, B...) over ``--rounds`` so background noise hits all of them alike;
    requests, seconds and latency samples of the rounds are pooled per scenario."""
    pooled: dict[tuple[str, str, int], serving_loadgen.LoadResult] = {}
    for round_no in range(1, args.rounds + 1):
        for rows in (1, 100):
            for t in targets:
                print(
                    f"round {round_no}/{args.rounds}: {t.server} {t.payload} {rows} row(s)",
                    file=sys.stderr,
                    flush=True,
                )
                request = serving_loadgen.build_request(
                    HOST, t.port, t.path, t.body(X[:rows]), t.content_type, t.content_type
                )
                res = serving_loadgen.run_load(
                    HOST, t.port, request, args.concurrency, args.duration, args.warmup, args.max_requests
                )
                if res.errors:
                    print(f"  {res.errors} errors, first: {res.first_error}", file=sys.stderr)
                acc = pooled.setdefault((t.server, t.payload, rows), serving_loadgen.LoadResult())
                acc.requests += res.requests
                acc.errors += res.errors
                acc.seconds += res.seconds
                acc.latencies_ns += res.latencies_ns
                acc.first_error = acc.first_error or res.first_error
    order = {(t.server, t.payload): i for i, t in enumerate(targets)}
    keys = sorted(pooled, key=lambda k: (order[(k[0], k[1])], k[2]))
    return [
        Scenario(server, payload, rows, pooled[(server, payload, rows)]) for server, payload, rows in keys
    ]


def markdown(scenarios: list[Scenario], floors: list[dict[str, float]]) -> str:
    lines = [
        "| server | payload | rows/request | requests/s | rows/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        r = s.result
        lines.append(
            f"| {s.server} | {s.payload} | {s.rows} | {r.rps:,.0f} | {r.rps * s.rows:,.0f} | "
            f"{r.percentile_ms(50):.3f} | {r.percentile_ms(99):.3f} | {r.errors} |"
        )
    lines += [
        "",
        "| floor: model predict_proba in-process | p50 µs | p99 µs | calls/s on one core |",
        "|---|---:|---:|---:|",
    ]
    for f in floors:
        lines.append(
            f"| {int(f['rows'])} row(s) | {f['p50_us']} | {f['p99_us']} | {f['calls_per_s_per_core']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes for every server")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the generator")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all servers")
    parser.add_argument("--warmup", type=float, default=1.0, help="discarded warm-up seconds per scenario")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request cap per phase")
    parser.add_argument("--mlserver-venv", default=str(ROOT / "benchmarks" / ".venv-mlserver"))
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument(
        "--mlserver-single-process",
        action="store_true",
        help="also run MLServer with parallel_workers=0 (inference in the HTTP process)",
    )
    parser.add_argument("--candidates", action="store_true", help="also run the gunicorn WSGI candidate")
    parser.add_argument(
        "--uvicorn", action="store_true", help="also run the same app as bare ASGI under uvicorn + httptools"
    )
    parser.add_argument("--json-out", help="write all figures to this JSON file")
    args = parser.parse_args()

    env = {**os.environ, **SINGLE_THREADED, "PYTHONPATH": str(ROOT)}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        X_all, y_all = synthetic.generate()
        data.write_dataset(work / "data", X_all, y_all, synthetic.DEFAULT_SEED)
        training.train(work / "data", work / "model", Hyperparameters())
        model = artifact.load(work / "model")
        X = synthetic.generate(1000, seed=7)[0]
        want = model.scores(X[:100])
        floors = [measure_floor(model, X, rows) for rows in (1, 100)]
        targets = start_model_code(stack, args, work, work / "model", env, X, want)
        if not args.skip_mlserver:
            targets += start_mlserver(stack, args, work, work / "model", env, X, want, args.workers)
            if args.mlserver_single_process:
                targets += start_mlserver(stack, args, work, work / "model", env, X, want, 0)
        if args.uvicorn:
            targets += start_uvicorn(stack, args, work, work / "model", env)
        if args.candidates:
            targets += start_gunicorn(stack, args, work, work / "model", env)
        scenarios = run_rounds(targets, X, args)
    load_after = os.getloadavg()[0]

    header = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, workers={args.workers}, concurrency={args.concurrency}, "
        f"{args.rounds} interleaved rounds of {args.duration:g} s per scenario "
        f"after {args.warmup:g} s warm-up, "
        f"1-min load average {load_before:.2f} before / {load_after:.2f} after"
    )
    cpu = (
        re.sub(
            r"\s+",
            " ",
            next(
                (
                    line.split(":", 1)[1]
                    for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")
                ),
                "unknown",
            ),
        ).strip()
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    print(f"\n{header}\nCPU: {cpu}\n")
    print(markdown(scenarios, floors))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "header": header,
                    "cpu": cpu,
                    "floor": floors,
                    "scenarios": [s.as_dict() for s in scenarios],
                },
                indent=2,
            )
            + "\n"
        )
    return 1 if any(s.result.errors for s in scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
