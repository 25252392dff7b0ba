"""Sinks fed by the engine (terminal now; JUnit, JSON lines and CI annotations later): the engine's records in,
text out. They know nothing of Kubernetes objects."""
