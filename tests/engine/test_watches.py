"""Which watches a run opens (engine.watches), driven by hand as in test_tracker: a few targets of a namespace are
watched per target with selectors, started once each target's object tells its selector; many share one watch of
the namespace; Events are watched from a resourceVersion, never listed; overlapping watches make one view."""

from __future__ import annotations

from kubedog_ci.engine.state import EVENTS, RELATED_TYPES, View
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.messages import ObjectEvent, Synced, WatchFailed
from kubedog_ci.rules import State, Stream
from kubedog_ci.rules.selectors import EVERYTHING, Selector, by_labels, by_name, from_label_selector
from tests.engine.builders import NS, obj, owner_ref, pod, running, waiting
from tests.engine.test_tracker import DEPLOYMENTS, JOBS, NOT_FOUND, WEB, Harness, deployment, replicaset, web_pod

PODS, REPLICASETS = RELATED_TYPES[Stream.PODS], RELATED_TYPES[Stream.REPLICASETS]
ENDPOINT_SLICES = RELATED_TYPES[Stream.ENDPOINT_SLICES]
SERVICES = Resource("", "v1", "services", "service", "Service", True, ("svc",))
POD_TYPE = Resource("", "v1", "pods", "pod", "Pod", True, ("po",))
WEB_LABELS = by_labels({"app": "web"})
WEB_NAME = by_name("web")


def selective(*targets: Target, **options: object) -> Harness:
    harness = Harness(*targets, selective_watches=6, **options)
    for watch in harness.tracker.watches():
        harness.tracker.watching.start(watch)
    return harness


def web(**fields: object) -> dict:
    found = deployment(**fields)
    found["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    return found


def put(harness: Harness, resource: Resource, item: dict, selector: Selector, change: str = "ADDED") -> None:
    harness.tracker.handle(ObjectEvent(resource, change, item, selector))


def sync(harness: Harness, resource: Resource, selector: Selector, namespace: str = NS) -> None:
    harness.tracker.handle(Synced(resource, namespace, selector))


def test_a_target_is_watched_by_name_and_its_related_objects_by_its_selector_once_seen() -> None:
    harness = selective(WEB)
    assert harness.producers.selected == [("deployments", NS, "fields metadata.name=web", None),
                                          ("events", NS, "everything", "")]
    put(harness, DEPLOYMENTS, web(ready=True), WEB_NAME)
    assert harness.producers.selected[2:] == [("replicasets", NS, "labels app=web", None),
                                              ("pods", NS, "labels app=web", None)]
    for resource, selector in ((DEPLOYMENTS, WEB_NAME), (EVENTS, EVERYTHING), (REPLICASETS, WEB_LABELS)):
        sync(harness, resource, selector)
    assert harness.sink.statuses == []  # its Pods have not listed yet
    sync(harness, PODS, WEB_LABELS)
    assert harness.state() is State.READY
    put(harness, DEPLOYMENTS, web(ready=True), WEB_NAME, "MODIFIED")
    assert len(harness.producers.selected) == 4  # the same selector: nothing new to watch


def test_a_target_not_found_is_said_so_once_its_own_watch_has_listed() -> None:
    harness = selective(WEB)
    sync(harness, DEPLOYMENTS, WEB_NAME)
    assert harness.sink.statuses[-1].reason == "NotFound"
    put(harness, DEPLOYMENTS, web(ready=True), WEB_NAME)  # created later: judged once its related watches list
    assert harness.sink.statuses[-1].reason == "NotFound"
    for resource, selector in ((EVENTS, EVERYTHING), (REPLICASETS, WEB_LABELS), (PODS, WEB_LABELS)):
        sync(harness, resource, selector)
    assert harness.state() is State.READY


def test_many_targets_of_a_namespace_share_one_watch_of_each_type() -> None:
    targets = [Target(DEPLOYMENTS, NS, f"web{n}") for n in range(7)] + [Target(JOBS, "batch", "migrate")]
    harness = selective(*targets)
    assert sorted(harness.producers.selected) == [
        ("deployments", NS, "everything", None), ("events", "batch", "everything", ""),
        ("events", NS, "everything", ""), ("jobs", "batch", "fields metadata.name=migrate", None),
        ("pods", NS, "everything", None), ("replicasets", NS, "everything", None)]


def test_the_selective_limit_counts_the_targets_using_a_type() -> None:
    targets = [Target(DEPLOYMENTS, NS, f"web{n}") for n in range(6)]
    harness = selective(*targets)
    assert {plural: selector for plural, _, selector, _ in harness.producers.selected} == {
        "deployments": "fields metadata.name=web5", "events": "everything"}
    assert len(harness.producers.selected) == 7


def test_a_jobs_pods_are_watched_by_its_selector_and_a_pods_by_its_name() -> None:
    job = obj("batch/v1", "Job", "migrate", "j-1", spec={"selector": {"matchLabels": {
        "batch.kubernetes.io/controller-uid": "j-1"}}})
    harness = selective(Target(JOBS, NS, "migrate"), Target(POD_TYPE, NS, "debug"))
    put(harness, JOBS, job, by_name("migrate"))
    assert sorted(harness.producers.selected) == [
        ("events", NS, "everything", ""), ("jobs", NS, "fields metadata.name=migrate", None),
        ("pods", NS, "fields metadata.name=debug", None),
        ("pods", NS, "labels batch.kubernetes.io/controller-uid=j-1", None)]


def test_a_services_endpoint_slices_by_its_name_and_pods_by_its_selector_none_without_one() -> None:
    harness = selective(Target(SERVICES, NS, "web"), Target(SERVICES, NS, "external"))
    assert ("endpointslices", NS, "labels kubernetes.io/service-name=web", None) in harness.producers.selected
    put(harness, SERVICES, obj("v1", "Service", "web", "s-1", spec={"selector": {"app": "web"}}), WEB_NAME)
    put(harness, SERVICES, obj("v1", "Service", "external", "s-2", spec={"type": "ExternalName"}),
        by_name("external"))
    pods = [entry for entry in harness.producers.selected if entry[0] == "pods"]
    assert pods == [("pods", NS, "labels app=web", None)]


def test_events_are_watched_from_the_version_taken_before_the_run() -> None:
    harness = selective(WEB, Target(JOBS, "batch", "migrate"), events_since=((NS, "4711"),))
    assert ("events", NS, "everything", "4711") in harness.producers.selected
    assert ("events", "batch", "everything", "") in harness.producers.selected


def test_only_its_own_watch_speaks_for_a_target() -> None:
    """A Pod target matched by a Deployment's selector too: that watch losing it (its labels changed) is no
    deletion of the target, and a stale copy from it does not overwrite the target's object."""
    harness = selective(WEB, Target(POD_TYPE, NS, "web-bbb-1"))
    put(harness, DEPLOYMENTS, web(), WEB_NAME)
    put(harness, REPLICASETS, replicaset("web-bbb", "rs-2", "2"), WEB_LABELS)
    target_pod = pod("web-bbb-1", "uid-web-bbb-1", waiting(), owner=owner_ref("ReplicaSet", "web-bbb", "rs-2"),
                     labels={"app": "web", "pod-template-hash": "bbb"})
    put(harness, POD_TYPE, target_pod, by_name("web-bbb-1"))
    put(harness, PODS, target_pod, WEB_LABELS)
    for resource, selector in ((DEPLOYMENTS, WEB_NAME), (EVENTS, EVERYTHING), (REPLICASETS, WEB_LABELS),
                               (PODS, WEB_LABELS), (POD_TYPE, by_name("web-bbb-1"))):
        sync(harness, resource, selector)
    put(harness, PODS, target_pod, WEB_LABELS, "DELETED")
    assert harness.state("web-bbb-1") is State.PROGRESSING
    assert harness.tracker.view.get(Stream.PODS, NS, "web-bbb-1") is not None  # its own watch still holds it


def test_overlapping_watches_make_one_view_of_the_newest_versions() -> None:
    harness = selective(WEB)
    put(harness, DEPLOYMENTS, web(), WEB_NAME)
    put(harness, REPLICASETS, replicaset("web-bbb", "rs-2", "2"), WEB_LABELS)
    for resource, selector in ((DEPLOYMENTS, WEB_NAME), (EVENTS, EVERYTHING), (REPLICASETS, WEB_LABELS),
                               (PODS, WEB_LABELS)):
        sync(harness, resource, selector)
    other = by_labels({"tier": "front"})

    def version(item: dict, rv: str) -> dict:
        item["metadata"]["resourceVersion"] = rv
        return item

    put(harness, PODS, version(web_pod("web-bbb-1", "rs-2", waiting()), "10"), WEB_LABELS)
    put(harness, PODS, version(web_pod("web-bbb-1", "rs-2", running()), "12"), other)
    put(harness, PODS, version(web_pod("web-bbb-1", "rs-2", waiting()), "10"), other)  # the other watch, behind
    assert harness.tracker.view.get(Stream.PODS, NS, "web-bbb-1")["metadata"]["resourceVersion"] == "12"
    put(harness, PODS, version(web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND)),
                               "14"), other, "DELETED")  # left that watch's selector, with a newer state
    assert harness.tracker.view.get(Stream.PODS, NS, "web-bbb-1")["metadata"]["resourceVersion"] == "14"
    assert harness.state() is State.FAILED  # the newer state counted
    put(harness, PODS, version(web_pod("web-bbb-1", "rs-2"), "15"), WEB_LABELS, "DELETED")
    assert harness.tracker.view.get(Stream.PODS, NS, "web-bbb-1") is None


def test_a_refused_related_type_is_told_once_and_not_asked_for_again() -> None:
    api = Target(DEPLOYMENTS, NS, "api")
    harness = selective(WEB, api)
    put(harness, DEPLOYMENTS, web(), WEB_NAME)
    harness.tracker.handle(WatchFailed(PODS, NS, "pods is forbidden", 403, WEB_LABELS))
    api_object = obj("apps/v1", "Deployment", "api", "d-2", generation=1, spec={
        "selector": {"matchLabels": {"app": "api"}}}, status={"observedGeneration": 1})
    put(harness, DEPLOYMENTS, api_object, by_name("api"))
    assert ("pods", NS, "labels app=api", None) not in harness.producers.selected
    assert ("replicasets", NS, "labels app=api", None) in harness.producers.selected
    assert [notice.split(";")[0] for notice in harness.sink.notices] == ["pods is forbidden"]
    for resource, selector in ((DEPLOYMENTS, by_name("api")), (EVENTS, EVERYTHING),
                               (REPLICASETS, by_labels({"app": "api"}))):
        sync(harness, resource, selector)
    assert [status.target for status in harness.sink.statuses] == ["deploy/api"]  # judged without its Pods


def test_a_target_s_own_watch_failing_is_a_cluster_error() -> None:
    harness = selective(WEB)
    harness.tracker.handle(WatchFailed(DEPLOYMENTS, NS, "deployments.apps \"web\" is forbidden", 403, WEB_NAME))
    assert harness.tracker.cluster_error == 'deployments.apps "web" is forbidden'


def _pod(uid: str, rv: str, phase: str = "Running") -> dict:
    found = pod("web-1", uid, owner=owner_ref("ReplicaSet", "web-bbb", "rs-2"), phase=phase)
    found["metadata"]["resourceVersion"] = rv
    return found


def test_the_view_keeps_the_newest_version_whatever_watch_brings_it() -> None:
    found = View()
    a, b = by_labels({"app": "web"}), by_labels({"tier": "front"})
    assert found.apply(Stream.PODS, "ADDED", _pod("u1", "5"), a) == ("ADDED", _pod("u1", "5"))
    assert found.apply(Stream.PODS, "ADDED", _pod("u1", "5"), b) is None  # the same version, from the other
    assert found.apply(Stream.PODS, "MODIFIED", _pod("u1", "7", "Failed"), b) is not None
    assert found.apply(Stream.PODS, "MODIFIED", _pod("u1", "6"), a) is None  # behind: not taken
    assert found.get(Stream.PODS, NS, "web-1")["status"]["phase"] == "Failed"
    assert found.apply(Stream.PODS, "DELETED", _pod("u1", "7", "Failed"), b) is None  # `a` still holds it
    assert found.owned(Stream.PODS, NS, "rs-2") != []
    assert found.apply(Stream.PODS, "DELETED", _pod("u1", "8", "Failed"), a)[0] == "DELETED"
    assert found.get(Stream.PODS, NS, "web-1") is None and found.owned(Stream.PODS, NS, "rs-2") == []


def test_a_new_object_of_the_same_name_replaces_the_old_one_but_not_the_other_way() -> None:
    found = View()
    a, b = by_labels({"app": "web"}), by_labels({"tier": "front"})
    found.apply(Stream.PODS, "ADDED", _pod("old", "5"), a)
    found.apply(Stream.PODS, "ADDED", _pod("old", "5"), b)
    found.apply(Stream.PODS, "DELETED", _pod("old", "9"), a)
    assert found.apply(Stream.PODS, "ADDED", _pod("new", "10"), a) == ("ADDED", _pod("new", "10"))
    assert found.apply(Stream.PODS, "MODIFIED", _pod("old", "6"), b) is None  # the other watch, behind
    assert found.apply(Stream.PODS, "DELETED", _pod("old", "9"), b) is None  # the old one's last word
    assert found.get(Stream.PODS, NS, "web-1")["metadata"]["uid"] == "new"
    assert found.with_uid("old") is None and found.with_uid("new") is not None


def test_label_selectors_become_query_strings() -> None:
    assert from_label_selector({"matchLabels": {"b": "2", "a": "1"}}) == Selector("a=1,b=2")
    assert from_label_selector({"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web", "api"]},
        {"key": "env", "operator": "NotIn", "values": ["dev"]},
        {"key": "canary", "operator": "DoesNotExist"}, {"key": "app", "operator": "Exists"}]}) == Selector(
        "!canary,app,env notin (dev),tier in (api,web)")
    assert from_label_selector({}) == EVERYTHING
    assert from_label_selector({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]}) is None
    assert from_label_selector("app=web") is None


def test_a_relist_telling_of_a_new_object_before_the_old_ones_deletion_keeps_the_new_one() -> None:
    harness = Harness(Target(POD_TYPE, NS, "db-0"), follow=True)
    old, new = pod("db-0", "old-uid", running()), pod("db-0", "new-uid", waiting())
    harness.put(POD_TYPE, old)
    harness.sync(POD_TYPE, EVENTS)
    harness.put(POD_TYPE, new)  # a relist after 410: the new one is reported, then the old one's deletion
    harness.put(POD_TYPE, {"metadata": {"name": "db-0", "namespace": NS, "uid": "old-uid"}}, "DELETED")
    state = next(iter(harness.tracker.states.values()))
    assert state.obj is not None and state.obj["metadata"]["uid"] == "new-uid"
    assert harness.tracker.view.get(Stream.PODS, NS, "db-0")["metadata"]["uid"] == "new-uid"
