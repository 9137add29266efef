"""The per-model SageMaker Pipeline definition: a pure builder, not a component.

`infra.components.training_pipeline` hands the JSON this package builds to `aws.sagemaker.Pipeline`. The
definition is rendered at `pulumi preview`/`up` time with the SageMaker SDK, so that property references,
`Std:Join`, `Std:JsonGet` and register-model arguments stay what the SDK and the service agree on, and it is
a pure function of a :class:`PipelineSpec`: no AWS account, no credentials, no network.

- `spec`: the spec and the step/parameter names others rely on;
- `sandbox`: the offline sandbox around the SDK (credential-less session, scoped env, no telemetry);
- `steps`: one builder per step;
- `definition`: assembles the steps and renders canonical JSON.

How the sandbox works and what it costs: docs/pipeline.md.
"""

from infra.core.pipeline.definition import build_pipeline_definition
from infra.core.pipeline.spec import PipelineSpec

__all__ = ["PipelineSpec", "build_pipeline_definition"]
