"""Guardrails for what Git delivers: render every `gitops/<env>/<model>` overlay and judge it in CI.

Manifests that Argo CD syncs never pass through `pulumi preview`, so the policy pack never sees them there.
This tool renders each overlay with `kubectl kustomize`, turns every object into the resource the Pulumi
Kubernetes provider would register for it (type `kubernetes:<group>/<version>:<Kind>`, the manifest as its
inputs), and runs the policy pack over them through `infra.plan.verdict`, i.e. the pack's own Kubernetes rule
code, loaded and configured exactly as for a plan, with the environment's policy config. Only the pack's
Kubernetes rules run: the others judge AWS resources that manifests never contain.

It also checks that each overlay says what the stack config says (`models.<m>.deploy` with target
`kubernetes`): the canary steps derived from `rollout`, replicas, HPA bounds, resources, namespace and IRSA role.
Overlays over `gitops/base/sagemaker-endpoint` (target `sagemaker`, delivery `pull`) render ACK objects: each is
also judged as the SageMaker resource it creates (`infra.core.ack.sagemaker_view`) by the pack's SageMaker rules, and
compared with the objects the stack config implies (`infra.manifests.pull_overlays`).

    python -m infra.manifests [--format text|json] [--write-patches] [OVERLAY_DIR ...]   (default: all)

`--write-patches` first rewrites each overlay's generated files from the stack config (atomically): a model
server's `rollout-patch.yaml` and `hpa-patch.yaml`, a pulled endpoint's `*-patch.yaml` and
`release-replacements.yaml`.

Exit codes: 0 no violation, 1 a mandatory violation or a disagreement with the stack config, 2 bad input.

Modules: `overlays` (find and render overlays, the promotion line), `judge` (the pack over rendered objects),
`sagemaker_view` (ACK objects as the SageMaker resources they create), `model_server` (a model-server overlay
against the stack config, and its generated patches), `pull_overlays` (the same for a pulled SageMaker endpoint),
`expectations` (what `infra.release verify` expects after a sync), `cli` (the command).
"""
