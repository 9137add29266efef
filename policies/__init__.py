"""The mlops-guardrails CrossGuard policy pack (see docs/policies.md)."""
