"""Offline plan: evaluate any Pulumi Python program under the SDK's mock runtime, judge it with the
policy pack, and render the result. Never touches the network."""
