"""What a Kubernetes model server pod needs to ship its data capture to the capture bucket: the one home of the
capture volume, the server's capture settings, the shipper sidecar and the termination budget, for the overlay
patches `python -m infra.manifests --write-patches` generates and the checks CI runs on the rendered overlay.

The server's workers write SageMaker-format capture files into an emptyDir; `model_code.capture_shipper` runs
beside them as a native sidecar (an init container with `restartPolicy: Always`, from the same serving image) and
uploads them to `s3://<capture bucket>/<env>/<model>/<yyyy>/<mm>/<dd>/<hh>/`, the prefix the Kubernetes monitor's
job definition reads (`bucket_layout.capture_prefix`). Kubernetes stops a native sidecar only after the main
containers have exited (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/, "Sidecar
containers and Pod lifecycle"; ordered termination since v1.29, kubernetes/kubernetes#120620; the cluster runs
1.33), so the shipper's flush sees the server's last files. Pure: dicts and strings. See docs/monitoring.md.
"""

from __future__ import annotations

from typing import Any

from infra.config import KubernetesDeploy
from infra.core import bucket_layout
from infra.core.naming import Naming

VOLUME = "capture"
MOUNT_PATH = "/var/capture"
VOLUME_SIZE_LIMIT_MIB = 512
"""The emptyDir's sizeLimit: above it the kubelet evicts the pod, so the shipper's budget stays well below."""
SHIPPER_BUDGET_MIB = 256
"""CAPTURE_MAX_MB: the shipper drops the oldest closed files above this. The other half of the volume absorbs what
the workers write between two passes (every POLL_SECONDS) and their open files (ROTATE_MIB each)."""
ROTATE_SECONDS = 60
"""A worker closes its capture file at this age (or ROTATE_MIB, or the hour's end): the upload delay of a record."""
ROTATE_MIB = 16
SEAL_SECONDS = 120
"""The shipper closes a file no worker wrote to for this long (an idle worker's last file)."""
POLL_SECONDS = 2
FLUSH_SECONDS = 15
"""On SIGTERM the shipper uploads what is left for at most this long."""
PRESTOP_SECONDS = 10  # gitops/base/model-server/rollout.yaml: the server's preStop sleep
SERVER_DRAIN_SECONDS = 20 + 5  # model_code.serve: MODEL_SERVER_GRACEFUL_TIMEOUT (default 20) + the master's 5 s
TERMINATION_GRACE_SECONDS = 60
"""The pod's terminationGracePeriodSeconds with capture on: the server's preStop and drain, then the shipper's
flush, with room to spare (`termination_budget_ok`)."""
SHIPPER_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}}
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}}


def termination_budget_ok() -> bool:
    """The grace period covers the server's preStop and drain plus the shipper's whole flush."""
    return PRESTOP_SECONDS + SERVER_DRAIN_SECONDS + FLUSH_SECONDS < TERMINATION_GRACE_SECONDS


def destination(shared_stack: str, shared_account_id: str, environment: str, model: str) -> str:
    """`s3://<capture bucket>/<env>/<model>/`: where the shipper writes and the job definition reads."""
    bucket = Naming.of_stack(shared_stack).bucket("capture", shared_account_id)
    return bucket_layout.s3_uri(bucket, bucket_layout.capture_prefix(environment, model))


def server_env(deploy: KubernetesDeploy) -> list[dict[str, str]]:
    return [{"name": "MODEL_SERVER_CAPTURE_DIR", "value": MOUNT_PATH},
            {"name": "MODEL_SERVER_CAPTURE_PERCENT", "value": str(deploy.data_capture_percent)},
            {"name": "MODEL_SERVER_CAPTURE_ROTATE_SECONDS", "value": str(ROTATE_SECONDS)},
            {"name": "MODEL_SERVER_CAPTURE_ROTATE_MB", "value": str(ROTATE_MIB)}]


def shipper_container(uri: str, shared_region: str) -> dict[str, Any]:
    """The native sidecar. CAPTURE_KMS_KEY_ARN comes from the overlay's release ConfigMap (the shared stack's
    key ARN, a stack output no stack file holds), as the SageMaker-by-pull overlays take it."""
    return {
        "name": "capture-shipper",
        "image": "model-server",
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "command": ["python3", "-m", "model_code.capture_shipper"],
        "env": [{"name": "CAPTURE_DIR", "value": MOUNT_PATH},
                {"name": "CAPTURE_S3_URI", "value": uri},
                {"name": "AWS_REGION", "value": shared_region},  # the capture bucket's region
                {"name": "CAPTURE_MAX_MB", "value": str(SHIPPER_BUDGET_MIB)},
                {"name": "CAPTURE_SEAL_SECONDS", "value": str(SEAL_SECONDS)},
                {"name": "CAPTURE_POLL_SECONDS", "value": str(POLL_SECONDS)},
                {"name": "CAPTURE_FLUSH_SECONDS", "value": str(FLUSH_SECONDS)}],
        "envFrom": [{"configMapRef": {"name": "model-release"}}],
        "resources": SHIPPER_RESOURCES,
        "securityContext": HARDENED,
        "volumeMounts": [{"name": VOLUME, "mountPath": MOUNT_PATH}],
    }


def rollout_operations(deploy: KubernetesDeploy, uri: str, shared_region: str) -> list[dict[str, Any]]:
    """JSON patch operations on the base Rollout that turn capture on (none when `dataCapturePercent` is 0)."""
    if not deploy.data_capture_percent:
        return []
    spec = "/spec/template/spec"
    return [
        {"op": "add", "path": f"{spec}/volumes/-",
         "value": {"name": VOLUME, "emptyDir": {"sizeLimit": f"{VOLUME_SIZE_LIMIT_MIB}Mi"}}},
        *({"op": "add", "path": f"{spec}/containers/0/env/-", "value": e} for e in server_env(deploy)),
        {"op": "add", "path": f"{spec}/containers/0/volumeMounts/-",
         "value": {"name": VOLUME, "mountPath": MOUNT_PATH}},
        {"op": "add", "path": f"{spec}/initContainers/-", "value": shipper_container(uri, shared_region)},
        {"op": "replace", "path": f"{spec}/terminationGracePeriodSeconds", "value": TERMINATION_GRACE_SECONDS},
    ]
