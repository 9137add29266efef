"""The typed stack configuration: parsed and validated once, at the edge, before any resource exists.

The Pulumi CLI hands a program a flat map of `namespace:key` strings (objects arrive as JSON text). This
package turns that map into frozen, fully validated objects. Components trust these objects and never
re-check them. Every problem is collected and reported together, each naming the key path, the bad value
and what is allowed, so a typo in a stack file costs one round trip, not five.

One module per part of the schema (`training`, `deploy`, `cluster`, `stack`), `base` for what they share,
and `parse` for the edge: decoding the CLI's strings and describing errors. Import from here.
"""

from infra.config.base import AWS_KEYS, PROJECT_NAMESPACE, ConfigError
from infra.config.cluster import ArgoCd, Cluster, EksCluster, Sso, SyncWindow
from infra.config.deploy import (
    DEPLOY_TARGETS,
    Alarms,
    Autoscaling,
    ContainerResources,
    Deploy,
    KubernetesDeploy,
    NoDeploy,
    Rollout,
    SageMakerDeploy,
    Serverless,
    Shadow,
)
from infra.config.monitoring import Experiments, Monitoring, RetrainOnDrift
from infra.config.parse import parse_stack_config, scalar_kind
from infra.config.stack import AssumeRole, Model, Network, StackConfig
from infra.config.training import MetricGate, Training

__all__ = [
    "AWS_KEYS", "DEPLOY_TARGETS", "PROJECT_NAMESPACE", "Alarms", "ArgoCd", "AssumeRole", "Autoscaling", "Cluster",
    "ConfigError", "ContainerResources", "Deploy", "EksCluster", "Experiments", "KubernetesDeploy", "MetricGate",
    "Model", "Monitoring", "RetrainOnDrift", "Network", "NoDeploy", "Rollout", "SageMakerDeploy", "Serverless",
    "Shadow", "Sso", "StackConfig",
    "SyncWindow", "Training", "parse_stack_config", "scalar_kind",
]
