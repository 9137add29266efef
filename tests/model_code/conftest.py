"""Shared fixtures: one generated data set, one trained model and one running server per test session.

Everything runs on 127.0.0.1 with ports chosen by the kernel, and every subprocess is stopped by the fixture
that started it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_code import data, synthetic
from model_code import train as training
from model_code.hyperparams import Hyperparameters

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for ``python -m model_code.*`` children: the repo on PYTHONPATH, nothing SageMaker-ish."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_", "MODEL_SERVER_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=env or subprocess_env(),
        cwd=REPO,
        timeout=120,
    )


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    X, y = synthetic.generate()
    data.write_dataset(out, X, y, synthetic.DEFAULT_SEED)
    return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("model")
    training.train(dataset_dir, out, Hyperparameters())
    return out


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    initial_workers: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return sorted(int(pid) for pid in children.split())

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait until the server log matches ``pattern``."""
        return wait_for_log(self.log, re.compile(pattern), self.proc, timeout)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def wait_for_log(
    log: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float = 30
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise AssertionError(
        f"{pattern.pattern!r} not seen within {timeout} s:\n{log.read_text(errors='replace')}"
    )


def ping_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start_server(model_dir: Path | None, log: Path, *args: str, **env: str) -> Server:
    """Start ``python -m model_code.serve`` on 127.0.0.1 and wait until it reports its port and answers /ping.
    With ``model_dir=None`` the model directory comes from the environment (``SM_MODEL_DIR``)."""
    cmd = [sys.executable, "-m", "model_code.serve", "--host", "127.0.0.1", *args]
    if model_dir is not None:
        cmd += ["--model-dir", str(model_dir)]
    if "--port" not in args and "SAGEMAKER_BIND_TO_PORT" not in env:
        cmd += ["--port", "0"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=subprocess_env(**env), cwd=REPO)
    port = int(wait_for_log(log, LISTENING, proc).group(1))
    server = Server(proc, port, log, [])
    deadline = time.monotonic() + 30
    while ping_status(server.url) != 200:
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.05)
    server.initial_workers = server.worker_pids()
    return server


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m <module> args...`` in a child process and capture its output."""
    return run_module


def run_in_process(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Same as :func:`run_module` but in this process (no interpreter start-up, no sklearn import per call):
    the module's ``main`` runs under :func:`model_code.cli.run` exactly as ``__main__`` does."""
    import contextlib
    import importlib
    import io

    from model_code import cli as cli_module

    mod = importlib.import_module(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_module.run(mod.main, list(args), prog=module)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_main() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``<module>.main(args)`` in-process with output captured; see :func:`run_in_process`."""
    return run_in_process


@pytest.fixture
def child_env() -> Callable[..., dict[str, str]]:
    return subprocess_env


@pytest.fixture
def spawn_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory for extra servers with their own settings; each is stopped (SIGTERM, else SIGKILL) at exit."""
    started: list[Server] = []

    def spawn(model: Path | None, *args: str, **env: str) -> Server:
        srv = start_server(model, tmp_path / f"server-{len(started)}.log", *args, **env)
        started.append(srv)
        return srv

    yield spawn
    for srv in started:
        try:
            srv.stop(timeout=30)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Server]:
    """Two workers and a 1 MiB payload limit (set through the SageMaker variable) shared by the HTTP tests."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    srv = start_server(model_dir, log, "--workers", "2", SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def gbt_hyperparameters() -> dict[str, object]:
    """Small enough to train in about a second: the algorithm is under test here, not its tuning."""
    return {"algorithm": "gbt", "max_iter": 40, "max_depth": 4, "learning_rate": 0.2, "seed": 3}


@pytest.fixture(scope="session")
def gbt_model_dir(
    tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path, gbt_hyperparameters: dict[str, object]
) -> Path:
    """A gradient-boosted-trees model trained on the session data set."""
    from model_code import hyperparams

    out = tmp_path_factory.mktemp("gbt-model")
    training.train(dataset_dir, out, hyperparams.parse(gbt_hyperparameters))
    return out
