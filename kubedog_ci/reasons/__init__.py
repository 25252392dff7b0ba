"""Failure detection from the classified reason table: `classify(where, reason, message, event_type)`."""

from kubedog_ci.reasons.classify import classify, looks_like_error
from kubedog_ci.reasons.model import Classification, ReasonClass

__all__ = ["Classification", "ReasonClass", "classify", "looks_like_error"]
