"""Secret values kept out of every output: each is replaced with "[redacted]" wherever it shows up.

Whoever controls a container or a controller decides what the cluster sends back: a log line echoing an env value
taken from a Secret, an Event or a server error quoting it. So the values themselves are hidden, not the fields
known to hold them. `SECRETS` is one Redactor for the whole process: apply-and-track adds the Secrets of its
input, the kubeconfig loader its credentials, and the outputs apply it to every record before it is written, as
the CLI does to the error paragraph it prints. A leaf module: every layer may register or redact.
"""

from __future__ import annotations

import base64
import contextlib
import re
import threading
from collections.abc import Iterable, Mapping

REDACTED = "[redacted]"
MIN_LENGTH = 4
"""Shorter values ("1", "yes") would blank out ordinary words and hide nothing worth hiding."""
_TOKEN = re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+|eyJ[\w-]{8,}\.[\w-]+\.[\w-]+")
"""Bearer tokens and JWTs: credentials a webhook or controller may quote in a message, whose values no one
registered."""


class Redactor:
    """Secret strings, and the text with each of them replaced; safe to add to while another thread redacts."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Hide `value`, and each line of a multi-line one (a PEM key): logs arrive a line at a time."""
        candidates = {value, *(line.strip() for line in value.splitlines())}
        with self._lock:
            new = {text for text in candidates if len(text) >= MIN_LENGTH} - self._values
            if new:
                self._values |= new
                # longest first, so a value containing another is hidden whole
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def add_secret(self, obj: Mapping) -> None:
        """A Secret manifest's values: stringData as written and base64-encoded (as the server stores and may
        quote it), data as written (base64) and decoded (as a container sees it). Other kinds add nothing."""
        if obj.get("kind") != "Secret":
            return
        for value in (obj.get("stringData") or {}).values():
            self.add(str(value))
            self.add(base64.b64encode(str(value).encode()).decode())
        for value in (obj.get("data") or {}).values():
            self.add(str(value))
            with contextlib.suppress(ValueError):  # not base64, or binary data, which no one prints as text
                self.add(base64.b64decode(str(value), validate=True).decode())

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None and text else text

    def many(self, texts: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.redact(text) for text in texts)


def redact_tokens(text: str) -> str:
    """Mask bearer tokens and JWTs (the word "Bearer" stays, so the reader knows what was there)."""
    return _TOKEN.sub(lambda match: (match.group(1) or "") + REDACTED, text)


SECRETS = Redactor()
"""The process's secrets: a value seen anywhere is hidden everywhere."""
