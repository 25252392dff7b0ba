"""PersistentVolumeClaim: readiness-rules.md ("PersistentVolumeClaim", Recommended): Bound is ready; Lost is
failed (Argo's Degraded: the volume is gone and will not come back), where kstatus would wait forever."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.profile import KindProfile, always
from kubedog_ci.rules.verdict import Verdict, failed, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _phase(obj)


def _phase(obj: dict) -> Verdict:
    subject = common.subject(obj)
    phase = common.status(obj).get("phase") or "Pending"
    volume = common.spec(obj).get("volumeName")
    if phase == "Bound":
        return ready("Bound", f"{subject} is bound" + (f" to volume {volume}" if volume else ""))
    if phase == "Lost":
        return failed("ClaimLost", f"{subject} lost its volume" + (f" {volume}" if volume else "")
                      + ": the PersistentVolume no longer exists")
    return progressing(phase, f"Waiting for {subject} to be bound (phase {phase})...")


PROFILE = KindProfile(evaluate, tracked=always)
