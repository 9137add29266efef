"""What a SageMaker endpoint's rollout means in SageMaker's own words, the same on the push path (the program's
`aws.sagemaker.Endpoint`) and the pull path (ACK objects in Git), and for `infra.release verify`."""

from __future__ import annotations

VARIANT = "AllTraffic"
"""The production variant that takes the traffic."""
SHADOW_VARIANT = "Shadow"
"""The shadow variant that receives a copy of the traffic (push path only: ACK 1.9.1 has no shadow variants)."""
ROUTING_TYPE = {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}
"""The stack config's `rollout.strategy` -> SageMaker's `TrafficRoutingConfiguration.Type`."""
