"""classify(): one case per class and every message variant of the overloaded reasons, with the messages the
kubelet, scheduler and controllers really write."""

from __future__ import annotations

import re
import time

import pytest

from kubedog_ci.reasons import Classification, ReasonClass, classify
from kubedog_ci.reasons.classify import _index

FATAL, FAILURE, CAPACITY, INFO = ReasonClass.FATAL, ReasonClass.FAILURE, ReasonClass.CAPACITY, ReasonClass.INFO
W, N = "Warning", "Normal"

IMAGE = "registry.example/api:v2"
NOT_FOUND = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{IMAGE}": failed to resolve '
             f'reference "{IMAGE}": {IMAGE}: not found')
NETWORK = (f'rpc error: code = Unknown desc = failed to pull and unpack image "{IMAGE}": failed to do request: '
           "Head https://registry.example/v2/api/manifests/v2: dial tcp 10.0.0.7:443: i/o timeout")
UNSCHEDULABLE_PREEMPTION = " preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."

# (where, reason, message, event type, class, grace, matched fragment)
CASES: list[tuple[str, str, str, str | None, ReasonClass, int | None, str | None]] = [
    # Images: fatal when the reference is unusable or the registry says the image is not there for us.
    ("waiting", "InvalidImageName", 'couldn\'t parse image name "Bad:Image": invalid reference format', None,
     FATAL, None, None),
    ("waiting", "ErrImageNeverPull", f'Container image "{IMAGE}" is not present with pull policy of Never', None,
     FATAL, None, None),
    ("event", "ErrImageNeverPull", f'Container image "{IMAGE}" is not present with pull policy of Never', W,
     FATAL, None, None),
    ("waiting", "ErrImagePull", NOT_FOUND, None, FATAL, None, "not found"),
    ("waiting", "ErrImagePull", f"failed to resolve reference \"{IMAGE}\": {IMAGE}: manifest unknown", None,
     FATAL, None, "manifest unknown"),
    ("waiting", "ErrImagePull", "failed to authorize: failed to fetch oauth token: unexpected status from GET "
     "request to https://registry.example/token: 401 Unauthorized", None, FATAL, None, "Unauthorized"),
    ("waiting", "ErrImagePull", 'Error response from daemon: pull access denied for api, repository does not exist '
     "or may require 'docker login': denied: requested access to the resource is denied", None,
     FATAL, None, "repository does not exist"),
    ("waiting", "ErrImagePull", NETWORK, None, FAILURE, None, None),
    ("waiting", "ErrImagePull", "toomanyrequests: You have reached your pull rate limit.", None,
     FAILURE, None, None),
    ("waiting", "ImagePullBackOff", f'Back-off pulling image "{IMAGE}": ErrImagePull: {NOT_FOUND}', None,
     FATAL, None, "not found"),
    ("waiting", "ImagePullBackOff", f'Back-off pulling image "{IMAGE}"', None, FAILURE, None, None),
    ("waiting", "SignatureValidationFailed", "image signature is not valid", None, FATAL, None, None),
    ("event", "InspectFailed", 'Failed to apply default image tag "Bad:Image": couldn\'t parse image name '
     '"Bad:Image": invalid reference format', W, FATAL, None, "Failed to apply default image tag"),
    ("event", "InspectFailed", f'Failed to inspect image "{IMAGE}": rpc error: code = Unavailable', W,
     FAILURE, None, None),
    # Failed (kubelet): the message names the cause.
    ("event", "Failed", f'Failed to pull image "{IMAGE}": {NOT_FOUND}', W, FATAL, None, "not found"),
    ("event", "Failed", f'Failed to pull image "{IMAGE}": unexpected status: 403 Forbidden', W,
     FATAL, None, "403 Forbidden"),
    ("event", "Failed", f'Failed to pull image "{IMAGE}": {NETWORK}', W, FAILURE, None, None),
    ("event", "Failed", "Error: ErrImagePull", W, FAILURE, None, None),
    ("event", "Failed", "Error: ImagePullBackOff", W, FAILURE, None, None),
    ("event", "Failed", "Error: InvalidImageName", W, FATAL, None, "InvalidImageName"),
    ("event", "Failed", "Error: ErrImageNeverPull", W, FATAL, None, "ErrImageNeverPull"),
    ("event", "Failed", 'Error: configmap "app-config" not found', W, FATAL, 60, 'configmap "app-config" not found'),
    ("event", "Failed", "Error: couldn't find key DB_URL in Secret default/db", W, FATAL, 60, "couldn't find key"),
    ("event", "Failed", 'Error: container has runAsNonRoot and image will run as root (pod: "web-1_default", '
     "container: app)", W, FATAL, None, "runAsNonRoot"),
    ("event", "Failed", "Error: failed to create containerd task: failed to create shim task: OCI runtime create "
     'failed: runc create failed: unable to start container process: exec: "serve": executable file not found in '
     "$PATH: unknown", W, FATAL, None, "executable file not found"),
    ("event", "Failed", "Error: context deadline exceeded", W, FAILURE, None, None),
    # Container configuration and start.
    ("waiting", "CreateContainerConfigError", 'configmap "app-config" not found', None, FATAL, 60, None),
    ("waiting", "CreateContainerConfigError", "couldn't find key DB_URL in Secret default/db", None,
     FATAL, 60, None),
    ("waiting", "CreateContainerConfigError", "container has runAsNonRoot and image will run as root", None,
     FATAL, None, "runAsNonRoot"),
    ("waiting", "RunContainerError", 'exec: "serve": executable file not found in $PATH', None,
     FATAL, None, "executable file not found"),
    ("waiting", "RunContainerError", "failed to start containerd task: context deadline exceeded", None,
     FAILURE, None, None),
    ("waiting", "CreateContainerError", "container name conflict", None, FAILURE, None, None),
    ("terminated", "StartError", "exec format error", None, FATAL, None, "exec format error"),
    ("terminated", "StartError", "failed to create task: context canceled", None, FAILURE, None, None),
    ("waiting", "CrashLoopBackOff", "back-off 10s restarting failed container=app pod=web-1", None,
     FAILURE, None, None),
    ("terminated", "OOMKilled", "", None, FAILURE, None, None),
    ("terminated", "Error", "", None, FAILURE, None, None),
    ("terminated", "Completed", "", None, INFO, None, None),
    ("terminated", "ContainerStatusUnknown", "The container could not be located when the pod was terminated",
     None, INFO, None, None),
    ("waiting", "ContainerCreating", "", None, INFO, None, None),
    # FailedScheduling and the Unschedulable condition: capacity unless the message names a config error.
    ("event", "FailedScheduling", f"0/3 nodes are available: 3 Insufficient cpu.{UNSCHEDULABLE_PREEMPTION}", W,
     CAPACITY, 120, "Insufficient cpu"),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", W,
     CAPACITY, 120, "Insufficient nvidia.com/gpu"),
    ("event", "FailedScheduling", "0/2 nodes are available: 2 Too many pods.", W, CAPACITY, 120, "Too many pods"),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod "
     "ports.", W, CAPACITY, 120, "didn't have free ports"),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 node(s) were unschedulable.", W,
     CAPACITY, 120, None),
    ("event", "FailedScheduling", "0/3 nodes are available: 1 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector."
     f"{UNSCHEDULABLE_PREEMPTION}", W, CAPACITY, 120, None),
    ("event", "FailedScheduling", "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had volume node "
     "affinity conflict.", W, CAPACITY, 120, "Insufficient memory"),
    ("event", "FailedScheduling", "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
     f"{UNSCHEDULABLE_PREEMPTION}", W, FATAL, 120, "unbound immediate PersistentVolumeClaims"),
    ("event", "FailedScheduling", '0/3 nodes are available: persistentvolumeclaim "data" not found.', W,
     FATAL, 120, 'persistentvolumeclaim "data" not found'),
    ("event", "FailedScheduling", '0/3 nodes are available: persistentvolumeclaim "data" is being deleted.', W,
     FATAL, 120, 'persistentvolumeclaim "data" is being deleted'),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 node(s) had volume node affinity conflict.", W,
     FATAL, 120, "volume node affinity conflict"),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to "
     "bind.", W, FATAL, 120, "didn't find available persistent volumes to bind"),
    ("event", "FailedScheduling", "0/3 nodes are available: 1 node(s) didn't match the requested node name, "
     "2 node(s) didn't match Pod's node affinity/selector.", W, FATAL, None, "didn't match the requested node name"),
    ("event", "FailedScheduling", "0/3 nodes are available: 3 node(s) unavailable due to PersistentVolumeClaim "
     "with ReadWriteOncePod access mode already in-use by another pod.", W, FAILURE, 120, "ReadWriteOncePod"),
    ("event", "FailedScheduling", "no nodes available to schedule pods", W, CAPACITY, 120, None),
    ("condition:PodScheduled", "Unschedulable", "0/3 nodes are available: 3 Insufficient memory.", None,
     CAPACITY, 120, "Insufficient memory"),
    ("condition:PodScheduled", "Unschedulable", "0/3 nodes are available: pod has unbound immediate "
     "PersistentVolumeClaims.", None, FATAL, 120, "unbound immediate PersistentVolumeClaims"),
    ("condition:PodScheduled", "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates", None,
     INFO, None, None),
    # FailedCreate (ReplicaSet, Job, StatefulSet, DaemonSet), its condition and ReplicaSetCreateError.
    ("event", "FailedCreate", 'Error creating: pods "web-7c9f-x2k" is forbidden: exceeded quota: compute, '
     "requested: cpu=500m, used: cpu=2, limited: cpu=2", W, CAPACITY, 120, "exceeded quota"),
    ("event", "FailedCreate", 'Error creating: pods "web-7c9f-x2k" is forbidden: violates PodSecurity '
     '"restricted:latest": allowPrivilegeEscalation != false', W, FATAL, None, "violates PodSecurity"),
    ("event", "FailedCreate", 'Error creating: admission webhook "validate.kyverno.svc" denied the request: '
     "resource Pod/default/web was blocked", W, FATAL, None,
     'admission webhook "validate.kyverno.svc" denied the request'),
    ("event", "FailedCreate", 'Error creating: pods "web-7c9f-x2k" is forbidden: error looking up service account '
     'default/app: serviceaccount "app" not found', W, FATAL, None, 'serviceaccount "app" not found'),
    ("event", "FailedCreate", 'Error creating: pods "web-7c9f-x2k" is forbidden: maximum cpu usage per Container '
     "is 1, but limit is 2", W, FATAL, None, "is forbidden"),
    ("event", "FailedCreate", 'Error creating: Internal error occurred: failed calling webhook "x.example": '
     "connection refused", W, FAILURE, None, None),
    ("condition:ReplicaFailure", "FailedCreate", 'pods "web-7c9f-x2k" is forbidden: exceeded quota: compute', None,
     CAPACITY, 120, "exceeded quota"),
    ("condition:Progressing", "ReplicaSetCreateError", 'Failed to create new replica set "web-7c9f": '
     'admission webhook "policy.example" denied the request: no', None, FATAL, None,
     'admission webhook "policy.example" denied the request'),
    ("event", "ReplicaSetCreateError", 'Failed to create new replica set "web-7c9f": replicasets.apps "web-7c9f" is '
     "forbidden: exceeded quota: objects", W, CAPACITY, 120, "exceeded quota"),
    # Volumes.
    ("event", "FailedMount", 'MountVolume.SetUp failed for volume "config" : configmap "app-config" not found', W,
     FATAL, 60, "not found"),
    ("event", "FailedMount", 'MountVolume.SetUp failed for volume "creds" : references non-existent secret key: '
     "password", W, FATAL, 60, "non-existent"),
    ("event", "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
     "volumes=[data kube-api-access-x]: timed out waiting for the condition", W, FAILURE, None, None),
    ("event", "FailedMount", 'MountVolume.SetUp failed for volume "kube-api-access-x" : object '
     '"default"/"kube-root-ca.crt" not registered', W, FAILURE, 60, "not registered"),
    ("event", "FailedMount", 'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) web-old', W,
     FAILURE, 120, "Multi-Attach error"),
    ("event", "FailedAttachVolume", 'Multi-Attach error for volume "pvc-1" Volume is already exclusively attached '
     "to one node and can't be attached to another", W, FAILURE, 120, "Multi-Attach error"),
    ("event", "FailedAttachVolume", 'AttachVolume.Attach failed for volume "pvc-1" : rpc error: code = Internal',
     W, FAILURE, None, None),
    ("event", "FailedMountOnFilesystemMismatch", "", W, FATAL, None, None),
    ("event", "FailedBinding", "no persistent volumes available for this claim and no storage class is set", N,
     FATAL, 120, "no persistent volumes available for this claim and no storage class is set"),
    ("event", "FailedBinding", 'volume "pv-1" already bound to a different claim.', W,
     FATAL, None, "already bound to a different claim"),
    ("event", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found', W, FATAL, 60, "not found"),
    ("event", "ProvisioningFailed", 'failed to provision volume with StorageClass "fast": rpc error: code = '
     "ResourceExhausted desc = backend busy", W, FAILURE, None, None),
    # Probes and kills.
    ("event", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", W,
     FAILURE, 60, None),
    ("event", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.5:8080/healthz\": connection refused", W,
     INFO, None, "Liveness probe"),
    ("event", "Unhealthy", "Startup probe failed: command exited 1", W, INFO, None, "Startup probe"),
    ("event", "Killing", "Container app failed liveness probe, will be restarted", N,
     FAILURE, None, "failed liveness probe"),
    ("event", "Killing", "Container app failed startup probe, will be restarted", N,
     FAILURE, None, "failed startup probe"),
    ("event", "Killing", "Stopping container app", N, INFO, None, None),
    # BackOff: Normal is the image back-off, Warning the container restart back-off.
    ("event", "BackOff", f'Back-off pulling image "{IMAGE}"', N, FAILURE, None, None),
    ("event", "BackOff", f'Back-off pulling image "{IMAGE}": ErrImagePull: {NOT_FOUND}', N,
     FATAL, None, "not found"),
    ("event", "BackOff", "Back-off restarting failed container app in pod web-1_default(0b1c)", W,
     FAILURE, None, None),
    ("event", "BackOff", "Back-off restarting failed container app in pod web-1_default(0b1c)", None,
     FAILURE, None, None),
    # Evicted: node pressure is capacity, the Pod's own storage limit is its fault.
    ("pod", "Evicted", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.", None,
     CAPACITY, 120, "The node was low on resource"),
    ("event", "Evicted", "The node was low on resource: ephemeral-storage.", W,
     CAPACITY, 120, "The node was low on resource"),
    ("pod", "Evicted", 'Container app exceeded its local ephemeral storage limit "1Gi". ', None,
     FAILURE, None, "exceeded its local ephemeral storage limit"),
    ("pod", "Evicted", "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. ", None,
     FAILURE, None, "ephemeral local storage usage exceeds"),
    ("event", "Evicted", 'Usage of EmptyDir volume "cache" exceeds the limit "1Gi". ', W,
     FAILURE, None, 'Usage of EmptyDir volume "cache" exceeds the limit'),
    ("pod", "Evicted", "The node had condition: [DiskPressure]. ", None, CAPACITY, 120, None),
    # Sandbox, node and admission.
    ("event", "FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to "
     'get sandbox runtime: no runtime for "kata" is configured', W, FATAL, None, "no runtime for"),
    ("event", "FailedCreatePodSandBox", 'Failed to create pod sandbox: plugin type="bridge" failed (add): failed to '
     "allocate for range 0: no IP addresses available in range set: 10.244.0.1-10.244.0.254", W,
     CAPACITY, 120, "failed to allocate for range"),
    ("event", "FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = DeadlineExceeded", W,
     FAILURE, None, None),
    ("event", "NetworkNotReady", "network is not ready: container runtime network not ready", W,
     FAILURE, 60, None),
    ("pod", "OutOfcpu", "Node didn't have enough resource: cpu, requested: 500, used: 3800, capacity: 4000", None,
     CAPACITY, 120, None),
    ("pod", "OutOfnvidia.com/gpu", "Node didn't have enough resource: nvidia.com/gpu", None, CAPACITY, 120, None),
    ("event", "OutOfamd.com/gpu", "", W, CAPACITY, 120, None),
    ("pod", "PodOSNotSupported", "", None, FATAL, None, None),
    ("pod", "NodeLost", "Node node-2 which was running pod web-1 is unresponsive", None, INFO, None, None),
    ("condition:DisruptionTarget", "PreemptionByScheduler", "", None, CAPACITY, 120, None),
    ("event", "Preempted", "Preempted by pod 1234 on node node-1", N, CAPACITY, 120, None),
    ("event", "NotTriggerScaleUp", "pod didn't trigger scale-up: 2 node(s) didn't match Pod's node affinity", N,
     CAPACITY, 120, None),
    ("event", "TriggeredScaleUp", "pod triggered scale-up: [{pool-1 1->2 (max: 5)}]", N, INFO, None, None),
    # Workload and Job verdicts.
    ("condition:Progressing", "ProgressDeadlineExceeded", 'ReplicaSet "web-7c9f" has timed out progressing.', None,
     FATAL, None, None),
    ("condition:Progressing", "DeploymentPaused", "Deployment is paused", None, INFO, None, None),
    ("condition:Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", None,
     FATAL, None, None),
    ("condition:FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline", None,
     FATAL, None, None),
    ("pod", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline", None,
     FATAL, None, None),
    ("event", "DeadlineExceeded", "Job was active longer than specified deadline", W, FATAL, None, None),
    ("condition:Complete", "CompletionsReached", "Reached expected number of succeeded pods", None,
     INFO, None, None),
    ("condition:Suspended", "JobSuspended", "Job suspended", None, INFO, None, None),
    ("event", "Completed", "Job completed", N, INFO, None, None),
    ("condition:PodResizeInProgress", "Error", "", None, FAILURE, None, None),
    ("event", "Pulled", f'Container image "{IMAGE}" already present on machine', N, INFO, None, None),
    ("event", "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: invalid "
     "annotation service.beta.kubernetes.io/aws-load-balancer-type", W, FATAL, None, "invalid"),
    ("event", "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: "
     "RequestLimitExceeded: Request limit exceeded.", W, FAILURE, None, None),
    # Reasons the table does not know.
    ("event", "PolicyViolation", "policy require-labels fail", W, INFO, None, None),
    ("event", "SomethingHappened", "", N, INFO, None, None),
    ("waiting", "ErrSomethingNew", "", None, FAILURE, None, None),
    ("waiting", "WeirdBackOff", "", None, FAILURE, None, None),
    ("terminated", "RuntimeError", "", None, FAILURE, None, None),
    ("waiting", "Initializing", "", None, INFO, None, None),
    ("pod", "SomethingElse", "", None, INFO, None, None),
    ("condition:Ready", "SomeControllerReason", "", None, INFO, None, None),
]


@pytest.mark.parametrize(("where", "reason", "message", "event_type", "cls", "grace", "fragment"), CASES,
                         ids=[f"{c[0]}/{c[1]}/{c[2][:40]}" for c in CASES])
def test_classify(where: str, reason: str, message: str, event_type: str | None, cls: ReasonClass,
                  grace: int | None, fragment: str | None) -> None:
    got = classify(where, reason, message, event_type)
    assert (got.cls, got.grace_seconds, got.matched_fragment) == (cls, grace, fragment)
    assert got.note


def test_every_class_has_a_case() -> None:
    assert {case[4] for case in CASES} == set(ReasonClass)


def test_backoff_event_type_picks_the_meaning() -> None:
    """Both are failures, but the note must tell an image back-off from a crash loop."""
    image = classify("event", "BackOff", f'Back-off pulling image "{IMAGE}"', "Normal")
    restart = classify("event", "BackOff", "Back-off restarting failed container app", "Warning")
    assert "ImagePullBackOff" in image.note
    assert "CrashLoopBackOff" in restart.note


def test_same_string_in_different_fields_is_a_different_reason() -> None:
    assert classify("terminated", "Completed").note != classify("event", "Completed", "", "Normal").note
    assert classify("terminated", "Error").note != classify("condition:PodResizeInProgress", "Error").note
    deadlines = {classify(where, "DeadlineExceeded").note for where in ("pod", "event", "condition:Failed")}
    assert len(deadlines) == 3


def test_unknown_warning_event_says_it_is_shown() -> None:
    assert "Warning" in classify("event", "PolicyViolation", "", "Warning").note
    assert "Warning" not in classify("event", "PolicyViolation", "", "Normal").note


def test_message_matching_is_case_insensitive() -> None:
    assert classify("waiting", "ErrImagePull", "MANIFEST UNKNOWN").cls is FATAL


def test_unknown_field_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="unknown reason field"):
        classify("evnt", "Failed")


def test_classification_is_frozen() -> None:
    got = classify("waiting", "CrashLoopBackOff")
    assert isinstance(got, Classification)
    with pytest.raises(AttributeError):
        got.cls = INFO  # type: ignore[misc]


def test_index_is_built_once() -> None:
    assert _index() is _index()


def test_no_regex_compiled_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pattern is compiled when the index is built; classifying afterwards never compiles again."""
    _index()

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("regex compiled during classify()")

    for name in ("compile", "search", "match", "fullmatch", "findall", "finditer", "sub"):
        monkeypatch.setattr(re, name, refuse)
    for where, reason, message, event_type, *_ in CASES:
        classify(where, reason, message, event_type)


def test_load_and_ten_thousand_classifications_are_cheap() -> None:
    """A CLI classifies on its start-up path: building the index and 10,000 calls must stay well under a second
    (about 40 ms on a laptop), whatever mix of plain and overloaded reasons."""
    _index.cache_clear()
    started = time.perf_counter()
    _index()
    for i in range(10_000):
        where, reason, message, event_type, *_ = CASES[i % len(CASES)]
        classify(where, reason, message, event_type)
    assert time.perf_counter() - started < 1.0
