"""The diagnosis block: its first line names the root cause; the rest is evidence, with secrets masked."""

from __future__ import annotations

import pytest

from kubedog_ci.engine.diagnosis import diagnose, headline, root_cause
from kubedog_ci.engine.sink import EventNotice
from kubedog_ci.rules.problems import pod_problems
from tests.engine.builders import exited, obj, pod, problem, running, terminated, waiting

PULL = pod_problems(pod("api-7c9f-x2k", "u", waiting(
    reason="ImagePullBackOff", message='Back-off pulling image "registry.example/api:v2"')))[0]
CRASH = pod_problems(pod("job-x", "u", terminated("main", code=2)))[0]
OOM = pod_problems(pod("hog-1", "u", waiting(reason="CrashLoopBackOff", last=exited(137, "OOMKilled"))))[0]
QUOTA_RS = obj("apps/v1", "ReplicaSet", "web-5d8", "rs", status={"conditions": [
    {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "exceeded quota: pods"}]})


@pytest.mark.parametrize(("label", "reason", "message", "cause", "by_rule", "expected"), [
    pytest.param("deploy/api", PULL.reason, PULL.describe(), PULL, False,
                 'deploy/api FAILED: po/api-7c9f-x2k [app] ImagePullBackOff: Back-off pulling image '
                 '"registry.example/api:v2"', id="pod-sign-decided"),
    pytest.param("job/migrate", "BackoffLimitExceeded", "Job has reached the specified backoff limit", CRASH, True,
                 "job/migrate FAILED: po/job-x [main] Error: exited with code 2 (BackoffLimitExceeded)",
                 id="controller-gave-up-pod-behind-it"),
    pytest.param("deploy/web", "ProgressDeadlineExceeded", 'deployment "web" exceeded its progress deadline', None,
                 True, 'deploy/web FAILED: ProgressDeadlineExceeded: deployment "web" exceeded its progress deadline',
                 id="controller-gave-up-nothing-behind-it"),
    pytest.param("job/migrate", "DeadlineExceeded",
                 'job "migrate" failed: DeadlineExceeded: Job was active longer than specified deadline', None, True,
                 "job/migrate FAILED: DeadlineExceeded: Job was active longer than specified deadline",
                 id="reason-not-said-twice"),
    pytest.param("deploy/hog", "OOMKilled", OOM.describe(), OOM, False,
                 "deploy/hog FAILED: po/hog-1 [app] OOMKilled: exited with code 137 (SIGKILL)", id="oom"),
    pytest.param("deploy/web", "Deleted", 'deployment "web" was deleted while tracked', None, True,
                 'deploy/web FAILED: Deleted: deployment "web" was deleted while tracked', id="deleted"),
    pytest.param("widget/gear", "Failed", "jammed", problem("Failed", "condition:Ready", "jammed"), True,
                 "widget/gear FAILED: po/web-1 Failed: jammed", id="same-reason-not-repeated"),
    pytest.param("prod/deploy/web", "FailedCreate", "x", None, False, "prod/deploy/web FAILED: FailedCreate: x",
                 id="namespace-qualified-label"),
])
def test_first_line_names_the_root_cause(label: str, reason: str, message: str, cause: object, by_rule: bool,
                                         expected: str) -> None:
    assert headline(label, reason, message, cause, by_rule) == expected  # type: ignore[arg-type]


def test_the_block_gives_the_evidence_in_order() -> None:
    warning = EventNotice("deploy/hog", "po/hog-1", "Warning", "BackOff", "Back-off restarting failed container",
                          count=4)
    block = diagnose("deploy/hog", "prod", OOM.reason, OOM.describe(), OOM, by_rule=False, warnings=[warning],
                     budget="2 failures counted, 1 allowed", log_tail=[f"line {n}" for n in range(30)]).lines()
    assert block[0] == "deploy/hog FAILED: po/hog-1 [app] OOMKilled: exited with code 137 (SIGKILL)"
    rows = [line.split(":", 1)[0].strip() for line in block[1:10]]
    assert rows == ["namespace", "pod", "container", "reason", "message", "exit code", "restarts", "class", "budget"]
    assert "  exit code: 137 (SIGKILL)" in block
    start = block.index("  last 20 log lines of app (previous instance):")
    assert block[start + 1] == "    | line 10" and block[start + 20] == "    | line 29"
    assert block[-2:] == ["  recent Warning events:",
                          "    po/hog-1 BackOff (x4): Back-off restarting failed container"]


def test_a_missing_log_says_why() -> None:
    block = diagnose("job/migrate", "prod", "BackoffLimitExceeded", "gave up", CRASH, by_rule=True,
                     log_error="could not be read (404 Not Found)").lines()
    assert "  verdict:   BackoffLimitExceeded: gave up" in block
    assert "  log of main (terminated instance): could not be read (404 Not Found)" in block


def test_no_log_section_without_a_crash() -> None:
    block = diagnose("deploy/api", "prod", PULL.reason, PULL.describe(), PULL, by_rule=False).lines()
    assert not any("log" in line for line in block)


def test_root_cause_prefers_the_most_severe_then_the_latest() -> None:
    first_crash = pod_problems(pod("a", "ua", running(last=exited(1))))[0]
    second_crash = pod_problems(pod("b", "ub", running(last=exited(2))))[0]
    assert root_cause([first_crash, second_crash]) is second_crash
    assert root_cause([PULL, first_crash]) is first_crash
    fatal = pod_problems(pod("c", "uc", waiting(reason="InvalidImageName")))[0]
    assert root_cause([first_crash, fatal, second_crash]) is fatal
    assert root_cause([]) is None
