"""The reason table itself: complete against the research catalog, and well-formed.

CATALOG is a copy of the reasons classified from ../shared/research/event-reasons.md (not read at test time:
CI may not have it), per field. A reason added to or dropped from the table must be added to or dropped from it.
"""

from __future__ import annotations

import re

import pytest

from kubedog_ci.reasons import ReasonClass, classify
from kubedog_ci.reasons.classify import FIELDS, _index
from kubedog_ci.reasons.model import Rule
from kubedog_ci.reasons.table import TABLE

CATALOG: dict[str, str] = {
    "event": (
        "Pulling Pulled Failed InspectFailed ErrImageNeverPull BackOff Created Started Killing "
        "ExceededGracePeriod FailedKillPod FailedCreatePodContainer NetworkNotReady SandboxChanged "
        "FailedCreatePodSandBox FailedPodSandBoxStatus FailedSync FailedValidation FailedPostStartHook "
        "FailedPreStopHook Unhealthy ProbeWarning FailedToRetrieveImagePullSecret DNSConfigForming "
        "MissingClusterDNS HostIPsIPFamilyMismatch LifecycleHTTPFallback FailedPrepareDynamicResources "
        "ResizeDeferred ResizeInfeasible ResizeStarted ResizeCompleted ResizeError "
        "FailedNodeDeclaredFeaturesCheck PossibleMemoryBackedVolumesOnDisk VolumeConditionAbnormal "
        "Evicted Preempting NodeShutdown UnexpectedAdmissionError OutOfcpu OutOfmemory "
        "OutOfephemeral-storage OutOfpods OutOf* NodeAffinity NodePorts TaintToleration "
        "PodOSSelectorNodeLabelDoesNotMatch PodOSNotSupported InvalidNodeInfo "
        "InitContainerRestartPolicyForbidden UnknownReason UnexpectedPredicateFailureType SysctlForbidden "
        "AppArmor SMTAlignmentError TopologyAffinityError PodLevelResourcesNotSupported "
        "PodFeatureUnsupported FailedMount FailedAttachVolume SuccessfulAttachVolume "
        "SuccessfulMountVolume FailedMapVolume AlreadyMountedVolume FailedMountOnFilesystemMismatch "
        "VolumeResizeFailed VolumeResizeSuccessful FileSystemResizeFailed FileSystemResizeSuccessful "
        "VolumePermissionChangeInProgress NodeReady NodeNotReady NodeSchedulable NodeNotSchedulable "
        "Starting KubeletSetupFailed Rebooted Shutdown ContainerGCFailed ImageGCFailed "
        "FailedNodeAllocatableEnforcement NodeAllocatableEnforced InvalidDiskCapacity FreeDiskSpaceFailed "
        "CgroupV1 CheckLimitsForResolvConf SystemOOM EvictionThresholdMet NodeHasSufficientMemory "
        "NodeHasInsufficientMemory NodeHasNoDiskPressure NodeHasDiskPressure NodeHasSufficientPID "
        "NodeHasInsufficientPID RegisteredNode RemovingNode DeletingAllPods NodeControllerEviction "
        "TaintManagerEviction Scheduled FailedScheduling Preempted SuccessfulCreate FailedCreate "
        "SuccessfulDelete FailedDelete ScalingReplicaSet ReplicaSetCreateError SelectingAll "
        "DeploymentRollback DeploymentRollbackRevisionNotFound DeploymentRollbackTemplateUnchanged "
        "SuccessfulUpdate FailedUpdate RecreatingFailedPod RecreatingTerminatedPod FailedDaemonPod "
        "SucceededDaemonPod FailedPlacement BackoffLimitExceeded PodFailurePolicy "
        "MaxFailedIndexesExceeded FailedIndexes DeadlineExceeded Completed Suspended Resumed "
        "TooManySucceededPods SawCompletedJob MissingJob UnexpectedJob JobAlreadyActive MissSchedule "
        "TooManyMissedTimes InvalidSchedule UnparseableSchedule UnknownTimeZone UnsupportedSchedule "
        "FailedGet FailedBinding ProvisioningFailed ProvisioningSucceeded ExternalProvisioning "
        "WaitForFirstConsumer WaitForPodScheduled ExternalExpanding VolumeMismatch ClaimLost "
        "ClaimMisbound ProvisioningCleanupFailed VolumeFailedRecycle VolumeRecycled RecyclerPod "
        "VolumeDelete VolumeFailedDelete EnsuringLoadBalancer EnsuredLoadBalancer SyncLoadBalancerFailed "
        "UpdatedLoadBalancer UpdateLoadBalancerFailed UnAvailableLoadBalancer DeletingLoadBalancer "
        "DeletedLoadBalancer DeleteLoadBalancerFailed Synced FailedToUpdateEndpointSlices "
        "SuccessfulRescale FailedRescale FailedGetScale FailedComputeMetricsReplicas "
        "FailedGetResourceMetric FailedGetPodsMetric FailedGetObjectMetric FailedGetExternalMetric "
        "FailedGetContainerResourceMetric InvalidSelector AmbiguousSelector SelectorRequired "
        "InvalidMetricSourceType FailedConvertHPA FailedUpdateStatus NoPods "
        "CalculateExpectedPodCountFailed UnmanagedPods TriggeredScaleUp NotTriggerScaleUp"
    ),
    "waiting": (
        "ContainerCreating PodInitializing CrashLoopBackOff ErrImagePull ImagePullBackOff "
        "InvalidImageName ErrImageNeverPull ImageInspectError RegistryUnavailable "
        "SignatureValidationFailed CreateContainerConfigError PreCreateHookError CreateContainerError "
        "PreStartHookError PostStartHookError RunContainerError"
    ),
    "terminated": "OOMKilled Error Completed StartError ContainerCannotRun ContainerStatusUnknown Unknown",
    "pod": (
        "Evicted Preempting NodeShutdown UnexpectedAdmissionError OutOfcpu OutOfmemory "
        "OutOfephemeral-storage OutOfpods OutOf* NodeAffinity NodePorts TaintToleration "
        "PodOSSelectorNodeLabelDoesNotMatch PodOSNotSupported InvalidNodeInfo "
        "InitContainerRestartPolicyForbidden UnknownReason UnexpectedPredicateFailureType SysctlForbidden "
        "AppArmor SMTAlignmentError TopologyAffinityError PodLevelResourcesNotSupported "
        "PodFeatureUnsupported DeadlineExceeded NodeLost Terminated"
    ),
    "condition:PodScheduled": "Unschedulable SchedulingGated SchedulerError",
    "condition:Ready": "ContainersNotReady ReadinessGatesNotReady PodCompleted KubeletNotReady KubeletReady",
    "condition:ContainersReady": "ContainersNotReady PodCompleted",
    "condition:Initialized": "ContainersNotInitialized PodCompleted",
    "condition:DisruptionTarget": (
        "TerminationByKubelet PreemptionByScheduler DeletionByTaintManager DeletionByPodGC "
        "EvictionByEvictionAPI"
    ),
    "condition:PodResizePending": "Deferred Infeasible",
    "condition:PodResizeInProgress": "Error",
    "condition:MemoryPressure": "KubeletHasInsufficientMemory",
    "condition:DiskPressure": "KubeletHasDiskPressure",
    "condition:PIDPressure": "KubeletHasInsufficientPID",
    "condition:Progressing": (
        "ProgressDeadlineExceeded ReplicaSetCreateError NewReplicaSetCreated FoundNewReplicaSet "
        "ReplicaSetUpdated NewReplicaSetAvailable DeploymentPaused DeploymentResumed"
    ),
    "condition:Available": "MinimumReplicasAvailable MinimumReplicasUnavailable",
    "condition:ReplicaFailure": "FailedCreate FailedDelete",
    "condition:Failed": "BackoffLimitExceeded PodFailurePolicy MaxFailedIndexesExceeded FailedIndexes DeadlineExceeded",
    "condition:FailureTarget": (
        "BackoffLimitExceeded PodFailurePolicy MaxFailedIndexesExceeded FailedIndexes DeadlineExceeded"
    ),
    "condition:Complete": "SuccessPolicy CompletionsReached",
    "condition:SuccessCriteriaMet": "SuccessPolicy CompletionsReached",
    "condition:Suspended": "JobSuspended JobResumed",
    "condition:AbleToScale": (
        "FailedGetScale SucceededGetScale ReadyForNewScale BackoffBoth BackoffDownscale BackoffUpscale "
        "FailedUpdateScale SucceededRescale"
    ),
    "condition:ScalingActive": (
        "FailedGetResourceMetric FailedGetPodsMetric FailedGetObjectMetric FailedGetExternalMetric "
        "FailedGetContainerResourceMetric InvalidSelector AmbiguousSelector SelectorRequired "
        "ValidMetricFound ScalingDisabled"
    ),
    "condition:DisruptionAllowed": "SufficientPods InsufficientPods SyncFailed",
    "condition:LoadBalancerPortsError": "LoadBalancerMixedProtocolNotSupported",
}
"""Space-separated reason names per field; `OutOf*` stands for the kubelet's OutOf<resource> family."""

RULES: list[tuple[str, Rule]] = [(where, rule) for where, rules in TABLE.items() for rule in rules]


def test_every_catalog_reason_is_in_the_table_and_nothing_else() -> None:
    expected = {(where, reason) for where, names in CATALOG.items() for reason in names.split()}
    assert {(where, rule.reason) for where, rule in RULES} == expected


def test_reasons_the_catalog_lists_in_two_fields_are_in_both() -> None:
    """Kubelet admission rejections are a Pod status reason and a Warning Event; Job failures an Event and two
    conditions."""
    for reason in ("Evicted", "Preempting", "OutOfcpu", "SysctlForbidden", "DeadlineExceeded"):
        assert reason in CATALOG["pod"].split() and reason in CATALOG["event"].split()
    for reason in ("BackoffLimitExceeded", "PodFailurePolicy", "DeadlineExceeded"):
        for where in ("event", "condition:Failed", "condition:FailureTarget"):
            assert reason in CATALOG[where].split()


@pytest.mark.parametrize(("where", "rule"), RULES, ids=[f"{where}/{rule.reason}" for where, rule in RULES])
def test_rule_is_well_formed(where: str, rule: Rule) -> None:
    assert where in FIELDS or re.fullmatch(r"condition:[A-Z]\w+", where)
    assert isinstance(rule.cls, ReasonClass)
    assert rule.note.strip()
    assert rule.event_type in (None, "Normal", "Warning")
    outcomes = [(rule.cls, rule.grace)] + [(o.cls, o.grace) for o in rule.overrides]
    for override in rule.overrides:
        assert isinstance(override.cls, ReasonClass)
        assert override.note.strip()
        assert re.compile(override.pattern).groups <= 1, "one capturing group at most: the fragment to quote"
    for cls, grace in outcomes:
        if cls is ReasonClass.CAPACITY:
            assert grace, "capacity means 'a failure only after its grace'"
        if cls is ReasonClass.INFO:
            assert grace is None, "a grace period on info means nothing"
        assert grace is None or grace > 0


def test_index_has_no_duplicate_keys() -> None:
    """_index() raises on a duplicate (field, reason, event type); its size shows nothing was dropped."""
    index = _index()
    prefixed = sum(len(entries) for entries in index.prefixes.values())
    assert len(index.exact) + prefixed == len(RULES)


def test_backoff_has_a_rule_per_event_type_and_a_fallback() -> None:
    types = {rule.event_type for where, rule in RULES if where == "event" and rule.reason == "BackOff"}
    assert types == {None, "Normal", "Warning"}


def test_catalog_classes_by_field() -> None:
    """Spot checks of the classes the brief fixes, straight from the table (no message)."""
    assert classify("waiting", "InvalidImageName").cls is ReasonClass.FATAL
    assert classify("waiting", "ErrImageNeverPull").cls is ReasonClass.FATAL
    assert classify("waiting", "CrashLoopBackOff").cls is ReasonClass.FAILURE
    assert classify("event", "FailedScheduling", "", "Warning").cls is ReasonClass.CAPACITY
    assert classify("event", "Scheduled", "", "Normal").cls is ReasonClass.INFO
