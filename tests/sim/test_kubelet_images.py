"""Image pulls that fail: ErrImagePull, ImagePullBackOff with back-off, InvalidImageName, ErrImageNeverPull.

The messages are the kubelet's image manager's (pkg/kubelet/images/image_manager.go) around containerd's
"not found" error, and the Events come in the real order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sim.kubelet_support import (
    container,
    create,
    event,
    events,
    follow,
    is_ready,
    pod,
    read,
    status_of,
    wait_event,
    waiting_reason,
    waiting_states,
)
from tests.support import Kube, cluster_kube, wait_until

MISSING = "nginx:does-not-exist"
NOT_FOUND = ('rpc error: code = NotFound desc = failed to pull and unpack image '
             '"docker.io/library/nginx:does-not-exist": failed to resolve reference '
             '"docker.io/library/nginx:does-not-exist": docker.io/library/nginx:does-not-exist: not found')


@pytest.fixture(scope="module")
def kc() -> Iterator[Kube]:
    """Handles for a cluster whose registry lacks these images."""
    with cluster_kube(failing_images=("does-not-exist", "private.example.com/")) as handles:
        yield handles


def _history_until(kc: Kube, body: dict, reason: str) -> list[tuple[str, str | None]]:
    created = create(kc, body)
    return waiting_states(follow(kc, created, lambda p: waiting_reason(p) == reason), "app")


def test_missing_image_goes_from_err_image_pull_to_image_pull_back_off(kc: Kube) -> None:
    states = _history_until(kc, pod("missing", container(image=MISSING)), "ImagePullBackOff")
    assert states == [("ContainerCreating", None), ("ErrImagePull", NOT_FOUND),
                      ("ImagePullBackOff", f'Back-off pulling image "{MISSING}": ErrImagePull: {NOT_FOUND}')]
    current = read(kc, "missing")
    assert current.status.phase == "Pending" and status_of(current).restart_count == 0
    failed = event(kc, "missing", "Failed", f'Failed to pull image "{MISSING}": {NOT_FOUND}')
    assert failed.type == "Warning" and failed.involved_object.field_path == "spec.containers{app}"
    assert event(kc, "missing", "Failed", "Error: ErrImagePull").type == "Warning"
    assert event(kc, "missing", "BackOff", f'Back-off pulling image "{MISSING}"').type == "Normal"
    assert event(kc, "missing", "Failed", "Error: ImagePullBackOff").type == "Warning"
    reasons = [e.reason for e in events(kc, "missing")]
    assert reasons[:4] == ["Pulling", "Failed", "Failed", "BackOff"]


def test_pulls_are_retried_with_back_off(kc: Kube) -> None:
    create(kc, pod("retried", container(image="private.example.com/app:v1")))

    def pulls() -> int:
        found = event(kc, "retried", "Pulling")
        return found.count if found else 0

    wait_until(lambda: pulls() >= 3, timeout=20, message="three pull attempts")
    pulling = event(kc, "retried", "Pulling")
    assert pulling.message == 'Pulling image "private.example.com/app:v1"'
    failed = event(kc, "retried", "Failed", "Error: ErrImagePull")
    assert failed.count >= 2


@pytest.mark.parametrize(("name", "image", "error"), [
    ("upper", "Nginx:1.25", "invalid reference format: repository name (library/Nginx) must be lowercase"),
    ("two-tags", "nginx:1.25:extra", "invalid reference format"),
    ("short-digest", "nginx@sha256:abc", "invalid reference format"),
])
def test_invalid_image_name(kc: Kube, name: str, image: str, error: str) -> None:
    message = f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {error}'
    states = _history_until(kc, pod(name, container(image=image)), "InvalidImageName")
    assert states[-1] == ("InvalidImageName", message)
    inspect = wait_event(kc, name, "InspectFailed", message)
    assert inspect.type == "Warning"
    assert event(kc, name, "Failed", "Error: InvalidImageName")
    assert event(kc, name, "Pulling") is None


def test_never_pull_policy_without_the_image(kc: Kube) -> None:
    message = 'Container image "busybox:never-pulled" is not present with pull policy of Never'
    body = pod("never", container(image="busybox:never-pulled", imagePullPolicy="Never"))
    assert _history_until(kc, body, "ErrImageNeverPull")[-1] == ("ErrImageNeverPull", message)
    assert wait_event(kc, "never", "ErrImageNeverPull", message).type == "Warning"


def test_image_pull_back_off_ends_when_the_pod_is_deleted(kc: Kube) -> None:
    _history_until(kc, pod("gone", container(image=MISSING)), "ErrImagePull")
    kc.core.delete_namespaced_pod("gone", "default")
    wait_until(lambda: "gone" not in [p.metadata.name for p in kc.core.list_namespaced_pod("default").items],
               message="pod gone removed")


def test_fixing_the_image_pulls_at_once(kc: Kube) -> None:
    _history_until(kc, pod("fixed", container(image=MISSING)), "ImagePullBackOff")
    fix = {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    kc.core.patch_namespaced_pod("fixed", "default", fix)
    wait_until(lambda: is_ready(read(kc, "fixed")), message="fixed Ready")
    assert event(kc, "fixed", "Pulling", 'Pulling image "nginx:1.27"')
    assert event(kc, "fixed", "BackOff", 'Back-off pulling image "nginx:1.27"') is None
