"""A real AWS emulator for the release tool: moto in server mode, in a subprocess, on a free loopback port.

The session starts `tests/release/emulator.py` (moto's own server application plus state injection, see that
file) and points boto3 at it through AWS_ENDPOINT_URL with dummy credentials. Every test starts from an
empty emulator (`/moto-api/reset`) and a copy of the project's stack files in a temporary folder, so
promotion never edits the repository's own files.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = Path(__file__).with_name("emulator.py")
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """One emulator process and the helpers tests use to seed and inject state."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(EMULATOR), "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("emulator did not start within 30 s")

    def post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201), response.read()

    def reset(self) -> None:
        self.post("/moto-api/reset", {})
        self.post("/_inject/reset", {})

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def aws_env(url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_MAX_ATTEMPTS": "2",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    emulator = Emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The session's emulator, emptied, with boto3 pointed at it for this test."""
    emulator_process.reset()
    for key in ("AWS_PROFILE", "AWS_REGION", "GITHUB_SHA"):
        monkeypatch.delenv(key, raising=False)
    for key, value in aws_env(emulator_process.url).items():
        monkeypatch.setenv(key, value)
    return emulator_process


@pytest.fixture
def own_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A private emulator for a test that makes it go away."""
    emulator = Emulator()
    for key, value in aws_env(emulator.url).items():
        monkeypatch.setenv(key, value)
    yield emulator
    emulator.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi.yaml and stack files, plus a pull-path overlay per environment, and the
    project's own SageMaker-by-pull overlay of churn in dev (with the bases it builds on)."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copytree(ROOT / "gitops" / "base", tmp_path / "gitops" / "base")
    shutil.copytree(ROOT / "gitops" / "dev" / "churn", tmp_path / "gitops" / "dev" / "churn")
    for env, version in (("dev", 2), ("staging", 2), ("prod", 1)):
        overlay = tmp_path / "gitops" / env / "fraud"
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(GITOPS_OVERLAY.format(version=version))
    return tmp_path


GITOPS_OVERLAY = """\
# The fraud model's overlay (pull path): Argo CD syncs this folder.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base/fraud
patches:
  - target: {{kind: Rollout, name: fraud}}
    patch: |-
      - op: replace
        path: /metadata/annotations/mlops.model-package-version
        value: "{version}" # mlops:approvedVersion
"""


@pytest.fixture
def proxy(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fault-injecting proxy on loopback in front of the emulator (see fault_proxy.py), with the tool pointed at
    it, two attempts per call and a 1 s read timeout, so that a hang ends within the test's budget."""
    from fault_proxy import FaultProxy

    from infra.release import aws

    started = FaultProxy(emulator.url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", started.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setattr(aws, "READ_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(aws, "INVOKE_READ_TIMEOUT_SECONDS", 1)
    yield started
    started.stop()
