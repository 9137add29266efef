"""Model code for the credit-default classifier: data, training, evaluation gate, serving and drift.

This package is the product that runs *inside* the platform's pipelines and endpoints. It is deliberately
independent of ``infra/``: it imports nothing from it, so the same code runs on a laptop, in a SageMaker
training or processing job, and behind a SageMaker endpoint or a Kubernetes Deployment.
"""

__version__ = "1.0.0"
