"""The classified reason table: every reason in the research catalog (event-reasons.md), keyed on the field it
appears in, with the message patterns that change its class and the grace periods that delay it.

Why a Python literal table and not a YAML file:
* start-up cost: importing this module (a cached .pyc) takes about 4 ms; the same table as YAML (1,600 lines)
  takes about 11 ms to parse with PyYAML's C loader and about 90 ms where libyaml is missing, on every CLI start;
* reasons that appear in several fields (kubelet admission rejections are a Pod status reason and an Event, Job
  failures an Event and two conditions) and override lists shared by several reasons (FailedScheduling and the
  Unschedulable condition, FailedCreate and ReplicaSetCreateError) are named once and reused, not copied;
* a misspelt class or grace is a NameError at import and a ruff finding, not a string that loads silently;
* it ships with `packages.find` like any module: no package-data configuration to forget.
Rows are plain constructor calls, one per reason and field, so the table still reads as data.

Classes follow the catalog except where its ⚖ (debatable) rows ask for a decision; those rows say why in their
note.
Infra disruption that a controller heals by replacing the Pod (node lost, taint eviction, node shutdown, ...) is
`info`: the budget is one failure per replica by default, and the replacement Pod's own reasons are classified.
"""

from __future__ import annotations

from kubedog_ci.reasons.model import Override, ReasonClass, Rule

FATAL, FAILURE, CAPACITY, INFO = ReasonClass.FATAL, ReasonClass.FAILURE, ReasonClass.CAPACITY, ReasonClass.INFO

CONFIG_GRACE = 60
"""A release may create a missing ConfigMap, Secret or StorageClass moments after the Pods (apply order)."""
WARMUP_GRACE = 60
"""Start-up races: readiness during warm-up (a fallback; the engine derives one from the probe when it can), the
kubelet's object cache and a fresh node's CNI."""
VOLUME_GRACE = 120
"""Volume hand-over and binding: a RWO volume detaching from the old Pod, a PVC being provisioned."""
CAPACITY_GRACE = 120
"""Time for the old revision's Pods to go or for a node to join before a shortage counts as a failure."""

# Message patterns shared by several reasons (regular expressions, searched case-insensitively; a capturing group
# marks the fragment to quote).
_IMAGE_GONE = r"manifest unknown|not found|repository does not exist"
_IMAGE_DENIED = r"unauthorized|denied|403 Forbidden|insufficient_scope"

IMAGE_MISSING = (
    Override(_IMAGE_GONE, FATAL, "The image or tag does not exist in the registry: retrying cannot help."),
    Override(_IMAGE_DENIED, FATAL, "The registry refuses these credentials: retrying gets the same answer."),
)
EXEC_BROKEN = Override(r'executable file not found|exec format error|exec: "[^"]*": permission denied', FATAL,
                       "The entrypoint is missing, not executable or built for another architecture.")
NON_ROOT = Override(r"runAsNonRoot|non-numeric user", FATAL,
                    "The Pod requires runAsNonRoot and the image runs as root (or a named user): a spec or image "
                    "change is needed, no object created later helps.")
CONFIG_MISSING = Override(r'(?:configmaps?|secrets?) "[^"]*" not found|couldn\'t find key|non-existent \w+ key',
                          FATAL, "A referenced ConfigMap, Secret or key is missing; a release may still create it.",
                          CONFIG_GRACE)
FAILED_CREATE = (
    Override("exceeded quota", CAPACITY,
             "A ResourceQuota is full; in a rolling update the old revision's Pods may free it.", CAPACITY_GRACE),
    Override("violates PodSecurity", FATAL, "Pod Security admission rejects the Pod template."),
    Override(r'admission webhook "[^"]*" denied the request', FATAL, "An admission webhook rejects the Pod template."),
    Override(r'serviceaccounts? "[^"]*" not found', FATAL, "The Pod's ServiceAccount does not exist."),
    Override("is forbidden", FATAL,
             "The API server rejects the Pod (LimitRange, quota without requests, terminating namespace)."),
)
SCHEDULING = (
    Override(r"Insufficient [\w./-]*\w|Too many pods|didn't have free ports|exceed max volume count"
             r"|did not have enough free storage", CAPACITY,
             "Some node lacks only room (checked first: in a mixed message, capacity can fix it).", CAPACITY_GRACE),
    Override("ReadWriteOncePod|no available disk", FAILURE,
             "The volume is still used by another Pod; it clears when the old Pod goes.", VOLUME_GRACE),
    Override(r'unbound immediate PersistentVolumeClaims|persistentvolumeclaim "[^"]*" (?:not found|is being deleted)'
             r"|bound to non-existent", FATAL,
             "A PVC is missing, unbound or being deleted; a release or a provisioner may still fix it.", VOLUME_GRACE),
    Override("volume node affinity conflict|didn't find available persistent volumes to bind"
             "|no available volume zone", FATAL, "The volumes' topology rules out every node.", VOLUME_GRACE),
    Override("didn't match the requested node name", FATAL, "spec.nodeName names a node that cannot take the Pod."),
)
MULTI_ATTACH = Override("Multi-Attach error", FAILURE,
                        "A RWO volume is still attached to the old Pod's node: normal for a moment in a rolling "
                        "update.", VOLUME_GRACE)
JOB_FAILED = (
    Rule("BackoffLimitExceeded", FATAL, "The Job failed: too many Pod failures."),
    Rule("PodFailurePolicy", FATAL, "A FailJob rule of the podFailurePolicy matched."),
    Rule("MaxFailedIndexesExceeded", FATAL, "An Indexed Job exceeded maxFailedIndexes."),
    Rule("FailedIndexes", FATAL, "Some indexes of an Indexed Job (backoffLimitPerIndex) failed."),
)
JOB_DEADLINE = Rule("DeadlineExceeded", FATAL, "The Job's activeDeadlineSeconds passed.")
JOB_SUCCEEDED = (
    Rule("SuccessPolicy", INFO, "The Job met its successPolicy."),
    Rule("CompletionsReached", INFO, "The Job reached its completions."),
)
HPA_SELECTOR = (
    Rule("InvalidSelector", INFO, "A broken HPA: fatal for the HPA, not for the rollout."),
    Rule("AmbiguousSelector", INFO, "A broken HPA: fatal for the HPA, not for the rollout."),
    Rule("SelectorRequired", INFO, "A broken HPA: fatal for the HPA, not for the rollout."),
)
HPA_METRICS = tuple(
    Rule(reason, INFO, "Metrics are missing right after new Pods start; never a rollout verdict.")
    for reason in ("FailedGetResourceMetric", "FailedGetPodsMetric", "FailedGetObjectMetric",
                   "FailedGetExternalMetric", "FailedGetContainerResourceMetric")
)
OUT_OF = "The kubelet's recount disagrees with the scheduler (usually a race); the replacement Pod may fit."
ADMISSION = (
    # Pod status.reason values the kubelet also records as a Warning Event with the same reason (rejectPod,
    # eviction, critical-Pod preemption).
    Rule("Evicted", CAPACITY, "Evicted (node condition at admission, or pressure); the replacement Pod decides.",
         CAPACITY_GRACE, (
             Override(r"exceeded its local ephemeral storage limit|ephemeral local storage usage exceeds"
                      r'|Usage of EmptyDir volume "[^"]*" exceeds the limit', FAILURE,
                      "The Pod outgrew its own ephemeral-storage limit: the app's fault, and it will recur."),
             Override("The node was low on resource", CAPACITY,
                      "Node pressure evicted the Pod: the node is short, not the app.", CAPACITY_GRACE),
         )),
    Rule("Preempting", CAPACITY, "Evicted on the node to admit a critical Pod.", CAPACITY_GRACE),
    Rule("NodeShutdown", INFO, "Rejected while the node shuts down; infra, the replacement Pod decides."),
    Rule("UnexpectedAdmissionError", FAILURE, "A device plugin or resource manager error at admission."),
    Rule("OutOfcpu", CAPACITY, OUT_OF, CAPACITY_GRACE),
    Rule("OutOfmemory", CAPACITY, OUT_OF, CAPACITY_GRACE),
    Rule("OutOfephemeral-storage", CAPACITY, OUT_OF, CAPACITY_GRACE),
    Rule("OutOfpods", CAPACITY, OUT_OF, CAPACITY_GRACE),
    Rule("OutOf*", CAPACITY, f"OutOf<extended resource>. {OUT_OF}", CAPACITY_GRACE),
    Rule("NodeAffinity", FAILURE, "Node labels changed after binding, or a bad nodeName; may recur."),
    Rule("NodePorts", CAPACITY, "The hostPort is taken on that node.", CAPACITY_GRACE),
    Rule("TaintToleration", FAILURE, "The node has an untolerated NoExecute taint."),
    Rule("PodOSSelectorNodeLabelDoesNotMatch", FATAL, "The Pod's kubernetes.io/os selector contradicts the node."),
    Rule("PodOSNotSupported", FATAL, "spec.os does not match the node's OS."),
    Rule("InvalidNodeInfo", FAILURE, "The kubelet could not read its own Node."),
    Rule("InitContainerRestartPolicyForbidden", FATAL, "A sidecar init container on a node without support."),
    Rule("UnknownReason", FAILURE, "Admission predicates failed without a reason."),
    Rule("UnexpectedPredicateFailureType", FAILURE, "An internal kubelet admission error."),
    Rule("SysctlForbidden", FATAL, "An unsafe sysctl not allowed on the node (nodes are usually configured alike)."),
    Rule("AppArmor", FATAL, "The AppArmor profile is missing or unsupported (nodes are usually configured alike)."),
    Rule("SMTAlignmentError", CAPACITY, "The CPU manager cannot allocate full physical cores.", CAPACITY_GRACE),
    Rule("TopologyAffinityError", CAPACITY, "No NUMA-aligned allocation on this node.", CAPACITY_GRACE),
    Rule("PodLevelResourcesNotSupported", FATAL, "Pod-level resources are not supported on the node."),
    Rule("PodFeatureUnsupported", FATAL, "The Pod needs node-declared features the node lacks."),
)

EVENTS = (
    # kubelet: images and container lifecycle.
    Rule("Pulling", INFO, "An image pull started."),
    Rule("Pulled", INFO, "The image was pulled or already present."),
    Rule("Failed", FAILURE, "Overloaded: the message names the cause; the container's waiting reason is the cleaner "
         "key.", None, (
             Override("Error: (InvalidImageName|ErrImageNeverPull|SignatureValidationFailed)", FATAL,
                      "The image cannot be used as specified."),
             EXEC_BROKEN,
             NON_ROOT,
             CONFIG_MISSING,
             Override(f"Failed to pull image .*?({_IMAGE_GONE})", FATAL,
                      "The image or tag does not exist in the registry: retrying cannot help."),
             Override(f"Failed to pull image .*?({_IMAGE_DENIED})", FATAL,
                      "The registry refuses these credentials: retrying gets the same answer."),
         )),
    Rule("InspectFailed", FAILURE, "The runtime failed to inspect the image (ImageInspectError).", None, (
        Override("Failed to apply default image tag|couldn't parse image name|invalid reference format", FATAL,
                 "The image reference cannot be parsed (InvalidImageName)."),
    )),
    Rule("ErrImageNeverPull", FATAL, "imagePullPolicy: Never and the image is not on the node."),
    Rule("BackOff", FAILURE, "Back-off pulling an image (Normal) or restarting a failed container (Warning).", None,
         IMAGE_MISSING),
    Rule("BackOff", FAILURE, "Back-off pulling the image; the waiting reason is ImagePullBackOff.", None,
         IMAGE_MISSING, "Normal"),
    Rule("BackOff", FAILURE, "Back-off restarting a failed container; the waiting reason is CrashLoopBackOff.",
         event_type="Warning"),
    Rule("Created", INFO, "The container was created."),
    Rule("Started", INFO, "The container was started."),
    Rule("Killing", INFO, "A normal stop (Stopping container, spec changed).", None, (
        Override("failed (?:liveness|startup) probe", FAILURE,
                 "Killed for a failed liveness/startup probe; it will be restarted."),
    )),
    Rule("ExceededGracePeriod", INFO, "The runtime did not stop the Pod in time; affects termination only."),
    Rule("FailedKillPod", FAILURE, "An old Pod cannot be stopped, so the rollout can stall."),
    Rule("FailedCreatePodContainer", FAILURE, "Creating the Pod cgroup failed on the node."),
    Rule("NetworkNotReady", FAILURE, "The node's CNI is not ready; a fresh (autoscaled) node gets there soon.",
         WARMUP_GRACE),
    Rule("SandboxChanged", INFO, "The sandbox will be re-created and the containers restart."),
    Rule("FailedCreatePodSandBox", FAILURE, "CNI or runtime error creating the sandbox; the kubelet retries.", None, (
        Override(r'no runtime for|RuntimeHandler "[^"]*" not supported|failed to find runtime handler', FATAL,
                 "The RuntimeClass handler is not configured on the node."),
        Override("no IP addresses available|failed to assign an IP address|failed to allocate for range"
                 "|IP pool is exhausted", CAPACITY, "The CNI ran out of Pod IPs.", CAPACITY_GRACE),
    )),
    Rule("FailedPodSandBoxStatus", FAILURE, "The runtime failed to report sandbox status."),
    Rule("FailedSync", FAILURE, "The kubelet failed to determine the Pod's status."),
    Rule("FailedValidation", FATAL, "An invalid or duplicate static Pod; not seen for API Pods."),
    Rule("FailedPostStartHook", FAILURE, "The postStart hook failed; the container is restarted."),
    Rule("FailedPreStopHook", INFO, "Happens only while old Pods terminate."),
    Rule("Unhealthy", FAILURE, "Readiness probe failed: normal during warm-up, so it counts only if it persists.",
         WARMUP_GRACE, (
             Override("^(?:Liveness|Startup) probe", INFO,
                      "Counted by what follows it (Killing, CrashLoopBackOff), not twice."),
         )),
    Rule("ProbeWarning", INFO, "The probe succeeded with a warning."),
    Rule("FailedToRetrieveImagePullSecret", INFO,
         "A missing pull secret: the pull's own outcome decides (public images still pull; private ones fail "
         "with unauthorized, which is fatal)."),
    Rule("DNSConfigForming", INFO, "The nameserver or search list was truncated."),
    Rule("MissingClusterDNS", INFO, "No cluster DNS; the Pod falls back to the Default DNS policy."),
    Rule("HostIPsIPFamilyMismatch", INFO, "A dual-stack hostIP mismatch; cosmetic for a rollout."),
    Rule("LifecycleHTTPFallback", INFO, "An HTTPS hook fell back to HTTP and succeeded."),
    Rule("FailedPrepareDynamicResources", FAILURE, "A DRA driver failed to prepare; the kubelet retries."),
    Rule("ResizeDeferred", CAPACITY, "An in-place resize does not fit right now.", CAPACITY_GRACE),
    Rule("ResizeInfeasible", CAPACITY, "The resize can never fit on this node; a resize is not a rollout.",
         CAPACITY_GRACE),
    Rule("ResizeStarted", INFO, "An in-place resize was allocated."),
    Rule("ResizeCompleted", INFO, "The resize was actuated."),
    Rule("ResizeError", FAILURE, "The runtime failed to actuate the resize."),
    Rule("FailedNodeDeclaredFeaturesCheck", FATAL, "The Pod needs node features the node does not declare."),
    Rule("PossibleMemoryBackedVolumesOnDisk", INFO, "A node swap/tmpfs warning."),
    Rule("VolumeConditionAbnormal", INFO, "CSI volume health; not a rollout verdict."),
    *ADMISSION,
    # Volumes (kubelet and attach-detach controller).
    Rule("FailedMount", FAILURE, "Timeouts and CSI errors: the kubelet retries.", None, (
        MULTI_ATTACH,
        Override("not registered", FAILURE, "The kubelet's object cache has not caught up yet (a start-up race).",
                 WARMUP_GRACE),
        Override("not found|non-existent", FATAL,
                 "A ConfigMap, Secret, key, PVC or CSI driver the volume needs is missing; a release may still "
                 "create it.", CONFIG_GRACE),
    )),
    Rule("FailedAttachVolume", FAILURE, "Attaching the volume failed.", None, (MULTI_ATTACH,)),
    Rule("SuccessfulAttachVolume", INFO, "The volume was attached."),
    Rule("SuccessfulMountVolume", INFO, "The volume was mounted."),
    Rule("FailedMapVolume", FAILURE, "Mapping a block volume failed."),
    Rule("AlreadyMountedVolume", INFO, "The volume was already mounted."),
    Rule("FailedMountOnFilesystemMismatch", FATAL, "The existing filesystem differs from the requested fsType."),
    Rule("VolumeResizeFailed", FAILURE, "A volume expansion failed."),
    Rule("VolumeResizeSuccessful", INFO, "The volume was expanded."),
    Rule("FileSystemResizeFailed", FAILURE, "A node-side filesystem expansion failed."),
    Rule("FileSystemResizeSuccessful", INFO, "The filesystem was expanded."),
    Rule("VolumePermissionChangeInProgress", INFO,
         "A slow recursive fsGroup chown; if it pushes the Pod past its probes, those count "
         "(hint: fsGroupChangePolicy: OnRootMismatch)."),
    # Nodes: context for Pod failures, never a verdict on a workload by themselves.
    Rule("NodeReady", INFO, "Node-scoped."),
    Rule("NodeNotReady", INFO,
         "The Pod's node is NotReady: infra, not the app; eviction and the replacement Pod decide."),
    Rule("NodeSchedulable", INFO, "Node uncordoned."),
    Rule("NodeNotSchedulable", INFO, "Node cordoned."),
    Rule("Starting", INFO, "The kubelet started."),
    Rule("KubeletSetupFailed", INFO, "Node-scoped."),
    Rule("Rebooted", INFO, "The node rebooted."),
    Rule("Shutdown", INFO, "Graceful node shutdown."),
    Rule("ContainerGCFailed", INFO, "Node-scoped."),
    Rule("ImageGCFailed", INFO, "An early disk-pressure signal; node-scoped."),
    Rule("FailedNodeAllocatableEnforcement", INFO, "Node-scoped."),
    Rule("NodeAllocatableEnforced", INFO, "Node-scoped."),
    Rule("InvalidDiskCapacity", INFO, "Node-scoped."),
    Rule("FreeDiskSpaceFailed", INFO, "Node-scoped."),
    Rule("CgroupV1", INFO, "cgroup v1 deprecation warning."),
    Rule("CheckLimitsForResolvConf", INFO, "Node resolv.conf limits."),
    Rule("SystemOOM", CAPACITY, "A node-level OOM kill (a container's own OOM is OOMKilled).", CAPACITY_GRACE),
    Rule("EvictionThresholdMet", CAPACITY, "Node pressure; evictions follow.", CAPACITY_GRACE),
    Rule("NodeHasSufficientMemory", INFO, "Node-scoped."),
    Rule("NodeHasInsufficientMemory", CAPACITY, "MemoryPressure=True.", CAPACITY_GRACE),
    Rule("NodeHasNoDiskPressure", INFO, "Node-scoped."),
    Rule("NodeHasDiskPressure", CAPACITY, "DiskPressure=True.", CAPACITY_GRACE),
    Rule("NodeHasSufficientPID", INFO, "Node-scoped."),
    Rule("NodeHasInsufficientPID", CAPACITY, "PIDPressure=True.", CAPACITY_GRACE),
    Rule("RegisteredNode", INFO, "Node-scoped."),
    Rule("RemovingNode", INFO, "Node-scoped."),
    Rule("DeletingAllPods", INFO, "The node controller drains the node."),
    Rule("NodeControllerEviction", INFO,
         "Deleted because its node is gone: infra, not the app; the replacement Pod decides."),
    Rule("TaintManagerEviction", INFO,
         "Marking for (or cancelling) deletion for a NoExecute taint: infra; the replacement Pod decides."),
    # Scheduler.
    Rule("Scheduled", INFO, "The Pod was assigned to a node."),
    Rule("FailedScheduling", CAPACITY,
         "Taints, node affinity, (anti-)affinity, topology spread, cordoned or NotReady nodes: a new or recovered "
         "node may fit, so capacity (NotTriggerScaleUp says none will come).", CAPACITY_GRACE, SCHEDULING),
    Rule("Preempted", CAPACITY, "Preempted by a higher-priority Pod.", CAPACITY_GRACE),
    # Workload controllers.
    Rule("SuccessfulCreate", INFO, "A Pod, PVC or Job was created."),
    Rule("FailedCreate", FAILURE, "The controller cannot create a Pod (on the ReplicaSet, not the Deployment).",
         None, FAILED_CREATE),
    Rule("SuccessfulDelete", INFO, "Scale-down or old Pods removed."),
    Rule("FailedDelete", FAILURE, "The controller cannot delete a Pod, so the rollout can stall."),
    Rule("ScalingReplicaSet", INFO, "A ReplicaSet was scaled."),
    Rule("ReplicaSetCreateError", FAILURE, "The new ReplicaSet could not be created.", None, FAILED_CREATE),
    Rule("SelectingAll", FATAL, "An empty selector selects everything."),
    Rule("DeploymentRollback", INFO, "Legacy rollbackTo."),
    Rule("DeploymentRollbackRevisionNotFound", INFO, "Legacy rollback API only."),
    Rule("DeploymentRollbackTemplateUnchanged", INFO, "Legacy rollback API only."),
    Rule("SuccessfulUpdate", INFO, "A StatefulSet Pod was updated."),
    Rule("FailedUpdate", FAILURE, "The StatefulSet controller cannot update a Pod."),
    Rule("RecreatingFailedPod", INFO,
         "The failed Pod's own status.reason is classified; counting the controller's reaction too would count "
         "one failure twice."),
    Rule("RecreatingTerminatedPod", INFO, "A Succeeded StatefulSet Pod is re-created."),
    Rule("FailedDaemonPod", INFO,
         "The failed Pod's own status.reason is classified; counting the controller's reaction too would count "
         "one failure twice."),
    Rule("SucceededDaemonPod", INFO, "A daemon Pod exited 0 and is re-created; its restarts show on the Pod."),
    Rule("FailedPlacement", CAPACITY, "Defined but no longer emitted.", CAPACITY_GRACE),
    # Job and CronJob.
    *JOB_FAILED,
    Rule("DeadlineExceeded", FATAL,
         "An activeDeadlineSeconds passed: a Job's (job controller) or a Pod's (kubelet); failed for good."),
    Rule("Completed", INFO, "Job completed (not the container's terminated reason)."),
    Rule("Suspended", INFO, "The Job was suspended."),
    Rule("Resumed", INFO, "The Job was resumed."),
    Rule("TooManySucceededPods", INFO, "More successes than completions; cosmetic."),
    Rule("SawCompletedJob", INFO, "A CronJob's Job finished."),
    Rule("MissingJob", INFO, "A CronJob's Job disappeared."),
    Rule("UnexpectedJob", INFO, "An adoption oddity."),
    Rule("JobAlreadyActive", INFO, "The Forbid concurrency policy skipped a run."),
    Rule("MissSchedule", FAILURE, "The starting deadline was missed."),
    Rule("TooManyMissedTimes", FAILURE, "Clock skew or a long outage."),
    Rule("InvalidSchedule", FATAL, "The CronJob schedule is invalid."),
    Rule("UnparseableSchedule", FATAL, "The CronJob schedule cannot be parsed."),
    Rule("UnknownTimeZone", FATAL, "The CronJob time zone is unknown."),
    Rule("UnsupportedSchedule", INFO, "CRON_TZ or TZ in the schedule."),
    Rule("FailedGet", FAILURE, "The CronJob controller failed to get a Job."),
    # Storage controllers.
    Rule("FailedBinding", FAILURE, "The claim cannot bind yet.", None, (
        Override("no persistent volumes available for this claim and no storage class is set", FATAL,
                 "Nothing can bind the claim unless someone creates a matching PV.", VOLUME_GRACE),
        Override("already bound to a different claim", FATAL, "The requested PV belongs to another claim."),
        Override("not found", FATAL, "The named StorageClass or volume does not exist.", CONFIG_GRACE),
    )),
    Rule("ProvisioningFailed", FAILURE, "Quota or backend errors: the provisioner retries.", None, (
        Override("not found", FATAL, "The StorageClass (or its secret) does not exist; a release may still create it.",
                 CONFIG_GRACE),
        Override("no volume plugin matched", FATAL, "The StorageClass names a provisioner this cluster lacks."),
    )),
    Rule("ProvisioningSucceeded", INFO, "The volume was provisioned."),
    Rule("ExternalProvisioning", INFO, "Waiting for a CSI provisioner."),
    Rule("WaitForFirstConsumer", INFO, "Delayed binding."),
    Rule("WaitForPodScheduled", INFO, "Waiting for the consuming Pod to be scheduled."),
    Rule("ExternalExpanding", INFO, "An external resizer expands the volume."),
    Rule("VolumeMismatch", FATAL, "The claim and the requested volume are incompatible."),
    Rule("ClaimLost", FATAL, "The bound PV disappeared."),
    Rule("ClaimMisbound", FATAL, "Two claims are bound to one volume."),
    Rule("ProvisioningCleanupFailed", INFO, "PV-level."),
    Rule("VolumeFailedRecycle", INFO, "PV-level."),
    Rule("VolumeRecycled", INFO, "PV-level."),
    Rule("RecyclerPod", INFO, "PV-level."),
    Rule("VolumeDelete", INFO, "PV-level."),
    Rule("VolumeFailedDelete", INFO, "PV-level."),
    # Services and cloud.
    Rule("EnsuringLoadBalancer", INFO, "The load balancer is being created."),
    Rule("EnsuredLoadBalancer", INFO, "The load balancer is ready."),
    Rule("SyncLoadBalancerFailed", FAILURE, "A cloud API error: the service controller retries.", None, (
        Override(r"\binvalid\b|not supported|unsupported", FATAL,
                 "The cloud rejects the Service's configuration (annotations, protocols)."),
    )),
    Rule("UpdatedLoadBalancer", INFO, "The load balancer was updated."),
    Rule("UpdateLoadBalancerFailed", FAILURE, "Updating the load balancer failed."),
    Rule("UnAvailableLoadBalancer", CAPACITY, "There are no available nodes for the LoadBalancer.", CAPACITY_GRACE),
    Rule("DeletingLoadBalancer", INFO, "The load balancer is being deleted."),
    Rule("DeletedLoadBalancer", INFO, "The load balancer was deleted."),
    Rule("DeleteLoadBalancerFailed", FAILURE, "Deleting the load balancer failed."),
    Rule("Synced", INFO, "Node-scoped (cloud node controller)."),
    Rule("FailedToUpdateEndpointSlices", INFO, "Usually a stale-cache conflict that is retried."),
    # HPA: on the HPA object; none decides a rollout.
    Rule("SuccessfulRescale", INFO, "The HPA rescaled."),
    Rule("FailedRescale", INFO, "HPA-scoped."),
    Rule("FailedGetScale", INFO, "HPA-scoped."),
    Rule("FailedComputeMetricsReplicas", INFO, "HPA-scoped; common during warm-up."),
    *HPA_METRICS,
    *HPA_SELECTOR,
    Rule("InvalidMetricSourceType", INFO, "HPA-scoped."),
    Rule("FailedConvertHPA", INFO, "HPA-scoped."),
    Rule("FailedUpdateStatus", INFO, "HPA-scoped."),
    # PodDisruptionBudget.
    Rule("NoPods", INFO, "PDB-scoped."),
    Rule("CalculateExpectedPodCountFailed", INFO, "PDB-scoped."),
    Rule("UnmanagedPods", INFO, "PDB-scoped."),
    # Cluster autoscaler.
    Rule("TriggeredScaleUp", INFO, "Nodes are on their way: extends the capacity grace of this Pod."),
    Rule("NotTriggerScaleUp", CAPACITY, "No node group fits the Pod: capacity will not arrive.", CAPACITY_GRACE),
)

WAITING = (
    Rule("ContainerCreating", INFO, "The default waiting state; if it lasts, FailedMount or FailedCreatePodSandBox "
         "events say why."),
    Rule("PodInitializing", INFO, "Init containers have not finished."),
    Rule("CrashLoopBackOff", FAILURE, "Restart back-off: the canonical budget item."),
    Rule("ErrImagePull", FAILURE, "A generic pull error (network, rate limit); one that names a missing image or "
         "refused credentials is fatal.", None, IMAGE_MISSING),
    Rule("ImagePullBackOff", FAILURE, "Back-off between pulls; the message carries the pull error.", None,
         IMAGE_MISSING),
    Rule("InvalidImageName", FATAL, "The image reference cannot be parsed."),
    Rule("ErrImageNeverPull", FATAL, "imagePullPolicy: Never and the image is not on the node (side-loading it "
         "later is rare)."),
    Rule("ImageInspectError", FAILURE, "The runtime failed to inspect the image."),
    Rule("RegistryUnavailable", FAILURE, "The registry is unreachable or answered an HTTP error."),
    Rule("SignatureValidationFailed", FATAL, "The runtime's signature policy rejects the image."),
    Rule("CreateContainerConfigError", FATAL,
         "A missing ConfigMap, Secret or key: fatal, but a release may still create it.", CONFIG_GRACE, (NON_ROOT,)),
    Rule("PreCreateHookError", FAILURE, "The kubelet's pre-create hook (CPU/device managers) failed."),
    Rule("CreateContainerError", FAILURE, "The runtime's CreateContainer failed.", None, (EXEC_BROKEN,)),
    Rule("PreStartHookError", FAILURE, "The kubelet's pre-start hook failed."),
    Rule("PostStartHookError", FAILURE, "The postStart hook failed and the container was killed."),
    Rule("RunContainerError", FAILURE, "StartContainer failed.", None, (EXEC_BROKEN,)),
)

TERMINATED = (
    Rule("OOMKilled", FAILURE, "Exceeded its memory limit; it will recur."),
    Rule("Error", FAILURE, "A non-zero exit (of an init container, it fails the Pod)."),
    Rule("Completed", INFO,
         "Exit 0: success for Job Pods and init containers; for a restartPolicy=Always container the restart "
         "that follows is counted (CrashLoopBackOff), not this."),
    Rule("StartError", FAILURE, "The start failed.", None, (EXEC_BROKEN,)),
    Rule("ContainerCannotRun", FAILURE, "Docker-era StartError.", None, (EXEC_BROKEN,)),
    Rule("ContainerStatusUnknown", INFO,
         "The container could not be located, usually after eviction or a node problem: infra, not the app."),
    Rule("Unknown", FAILURE, "The runtime lost the container's exit status."),
)

POD = (
    *ADMISSION,
    Rule("DeadlineExceeded", FATAL, "The Pod's activeDeadlineSeconds passed: it is Failed for good."),
    Rule("NodeLost", INFO, "The node is unreachable and the Pod is replaced: infra, not the app."),
    Rule("Terminated", INFO, "Graceful node shutdown: infra, not the app."),
)

NOT_READY = Rule("ContainersNotReady", INFO, "Normal while starting.")
POD_COMPLETED = Rule("PodCompleted", INFO, "The Pod has finished.")

TABLE: dict[str, tuple[Rule, ...]] = {
    "event": EVENTS,
    "waiting": WAITING,
    "terminated": TERMINATED,
    "pod": POD,
    # Pod conditions.
    "condition:PodScheduled": (
        Rule("Unschedulable", CAPACITY, "Read like FailedScheduling: its message is the same.", CAPACITY_GRACE,
             SCHEDULING),
        Rule("SchedulingGated", INFO, "schedulingGates are present on purpose; not a failure."),
        Rule("SchedulerError", FAILURE, "An internal scheduler error."),
    ),
    "condition:Ready": (
        NOT_READY,
        Rule("ReadinessGatesNotReady", INFO, "A readiness gate (e.g. a load-balancer controller) is not true yet."),
        POD_COMPLETED,
        Rule("KubeletNotReady", INFO, "Node Ready=False; node-scoped."),
        Rule("KubeletReady", INFO, "Node Ready=True; node-scoped (unconfirmed upstream name)."),
    ),
    "condition:ContainersReady": (NOT_READY, POD_COMPLETED),
    "condition:Initialized": (
        Rule("ContainersNotInitialized", INFO, "Init containers are still running."),
        POD_COMPLETED,
    ),
    "condition:DisruptionTarget": (
        Rule("TerminationByKubelet", INFO, "Eviction, preemption or shutdown by the kubelet; the status reason says "
             "which."),
        Rule("PreemptionByScheduler", CAPACITY, "Preempted for a higher-priority Pod.", CAPACITY_GRACE),
        Rule("DeletionByTaintManager", INFO, "NoExecute taint eviction (a node failure): infra, not the app."),
        Rule("DeletionByPodGC", INFO, "The Pod's node is gone."),
        Rule("EvictionByEvictionAPI", INFO, "A voluntary eviction (drain, descheduler)."),
    ),
    "condition:PodResizePending": (
        Rule("Deferred", CAPACITY, "The resize does not fit right now.", CAPACITY_GRACE),
        Rule("Infeasible", CAPACITY, "The resize can never fit on this node; a resize is not a rollout.",
             CAPACITY_GRACE),
    ),
    "condition:PodResizeInProgress": (
        Rule("Error", FAILURE, "Actuating the resize failed (not the container's terminated Error)."),
    ),
    # Node conditions.
    "condition:MemoryPressure": (Rule("KubeletHasInsufficientMemory", CAPACITY, "Node memory pressure.",
                                      CAPACITY_GRACE),),
    "condition:DiskPressure": (Rule("KubeletHasDiskPressure", CAPACITY, "Node disk pressure.", CAPACITY_GRACE),),
    "condition:PIDPressure": (Rule("KubeletHasInsufficientPID", CAPACITY, "Node PID pressure.", CAPACITY_GRACE),),
    # Deployment and ReplicaSet conditions.
    "condition:Progressing": (
        Rule("ProgressDeadlineExceeded", FATAL, "The Deployment controller's own verdict: the rollout is stuck."),
        Rule("ReplicaSetCreateError", FAILURE, "The new ReplicaSet could not be created.", None, FAILED_CREATE),
        Rule("NewReplicaSetCreated", INFO, "Progress."),
        Rule("FoundNewReplicaSet", INFO, "Progress."),
        Rule("ReplicaSetUpdated", INFO, "Progress; resets the deadline."),
        Rule("NewReplicaSetAvailable", INFO, "The rollout is complete."),
        Rule("DeploymentPaused", INFO, "Paused: never completes; the Deployment rule reports ready with a warning."),
        Rule("DeploymentResumed", INFO, "Resumed."),
    ),
    "condition:Available": (
        Rule("MinimumReplicasAvailable", INFO, "Enough replicas are available."),
        Rule("MinimumReplicasUnavailable", INFO, "Normal mid-rollout; the progress deadline decides."),
    ),
    "condition:ReplicaFailure": (
        Rule("FailedCreate", FAILURE, "The ReplicaSet cannot create a Pod.", None, FAILED_CREATE),
        Rule("FailedDelete", FAILURE, "The ReplicaSet cannot delete a Pod."),
    ),
    # Job conditions.
    "condition:Failed": (*JOB_FAILED, JOB_DEADLINE),
    "condition:FailureTarget": (*JOB_FAILED, JOB_DEADLINE),
    "condition:Complete": JOB_SUCCEEDED,
    "condition:SuccessCriteriaMet": JOB_SUCCEEDED,
    "condition:Suspended": (
        Rule("JobSuspended", INFO, "Suspended: never completes; the Job rule reports ready with a warning."),
        Rule("JobResumed", INFO, "Resumed."),
    ),
    # HorizontalPodAutoscaler conditions.
    "condition:AbleToScale": tuple(
        Rule(reason, INFO, "HPA-scoped.")
        for reason in ("FailedGetScale", "SucceededGetScale", "ReadyForNewScale", "BackoffBoth", "BackoffDownscale",
                       "BackoffUpscale", "FailedUpdateScale", "SucceededRescale")
    ),
    "condition:ScalingActive": (
        *HPA_METRICS,
        *HPA_SELECTOR,
        Rule("ValidMetricFound", INFO, "HPA-scoped."),
        Rule("ScalingDisabled", INFO, "HPA-scoped."),
    ),
    # PodDisruptionBudget condition.
    "condition:DisruptionAllowed": tuple(
        Rule(reason, INFO, "PDB-scoped.") for reason in ("SufficientPods", "InsufficientPods", "SyncFailed")
    ),
    # Service condition.
    "condition:LoadBalancerPortsError": (
        Rule("LoadBalancerMixedProtocolNotSupported", FATAL, "The cloud cannot mix TCP and UDP on one LoadBalancer."),
    ),
}
