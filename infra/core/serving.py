"""What a SageMaker endpoint's rollout means in SageMaker's own words, the same on the push path (the program's
`aws.sagemaker.Endpoint`) and the pull path (ACK objects in Git), and for `infra.release verify`."""

from __future__ import annotations

VARIANT = "AllTraffic"
"""The production variant that takes the traffic."""
SHADOW_VARIANT = "Shadow"
"""The shadow variant that receives a copy of the traffic (push path only: ACK 1.9.1 has no shadow variants)."""
ROUTING_TYPE = {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}
"""The stack config's `rollout.strategy` -> SageMaker's `TrafficRoutingConfiguration.Type`."""

SERVER_ERRORS, MODEL_ERRORS, LATENCY_P99 = "5xx-errors", "model-errors", "latency-p99"
ALARM_SIGNALS = (SERVER_ERRORS, MODEL_ERRORS, LATENCY_P99)
"""The rollback alarms of an endpoint (`Naming.alarm(model, signal)`), in the order SageMakerEndpoint declares
them: the push path's auto-rollback, the ACK `Endpoint` of the pull path and `infra.release verify` read this."""

CAPTURE_MODES = ("Input", "Output")
"""Data capture records both the request and the response."""
CAPTURE_CSV_CONTENT_TYPES = ("text/csv",)
CAPTURE_JSON_CONTENT_TYPES = ("application/json",)
"""Content types SageMaker captures as text (not base64), so the drift job reads them as they were sent."""

TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags")
MODEL_ACTIONS = ("sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel")
ENDPOINT_CONFIG_ACTIONS = ("sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
                           "sagemaker:DeleteEndpointConfig")
ENDPOINT_ACTIONS = ("sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                    "sagemaker:DeleteEndpoint")
"""What managing a SageMaker model, endpoint configuration and endpoint takes: the same calls whether `pulumi up`
makes them (the CI deploy role, push) or the ACK controller does (its IRSA role, pull)."""
