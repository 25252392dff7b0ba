"""The secrets registry's token masking (the registry itself is tested through the sinks in tests/output)."""

from __future__ import annotations

import pytest

from kubedog_ci.secrets import redact_tokens


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer [redacted]"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature_x here", "token [redacted] here"),
    ('couldn\'t find key password in Secret prod/db', 'couldn\'t find key password in Secret prod/db'),
])
def test_tokens_are_masked(text: str, expected: str) -> None:
    assert redact_tokens(text) == expected
