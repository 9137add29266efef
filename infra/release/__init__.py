"""`python -m infra.release`: the release glue CI runs between `pulumi up` and the model registry.

start-training, approve, promote, verify and smoke-test, each a small module of its own. Resource names come
from `infra.core.naming` applied to the stack files (no Pulumi CLI needed); `--outputs` takes the JSON of
`pulumi stack output --json` where that is more exact. boto3 only, with explicit retries and timeouts.
"""
