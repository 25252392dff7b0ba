"""The Secrets a tracked workload's Pods consume, read once each before a line of its logs is followed, so their
values are redacted wherever they show up (kubedog_ci.secrets; Options.redact_secrets)."""

from __future__ import annotations

from kubedog_ci.engine.producers import Producers
from kubedog_ci.engine.sink import Sink
from kubedog_ci.rules.objects import consumed_secrets


class SecretReads:
    """Which Secrets were read (or tried); a Secret that cannot be read is a notice, and tracking goes on."""

    def __init__(self, producers: Producers, sink: Sink, *, enabled: bool) -> None:
        self.producers = producers
        self.sink = sink
        self.enabled = enabled
        self.seen: set[tuple[str, str]] = set()
        """(namespace, name) of the Secrets read or tried."""

    def read(self, namespace: str, objects: list[dict]) -> None:
        """Read each Secret the objects (a workload, its Pods) consume that was not read before."""
        if not self.enabled:
            return
        for name in sorted({name for obj in objects for name in consumed_secrets(obj)}):
            if (namespace, name) in self.seen:
                continue
            self.seen.add((namespace, name))
            why = self.producers.read_secret(namespace, name)
            if why is None:
                self.sink.detail(f'read Secret "{name}" in namespace "{namespace}": its values are redacted')
            elif why != "not found":  # a missing Secret has no values to print; its Pods report it
                self.sink.notice(f'cannot read Secret "{name}" in namespace "{namespace}" ({why}): its values '
                                 "cannot be redacted from logs")
