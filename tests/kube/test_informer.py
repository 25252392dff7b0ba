"""The Informer against the simulator: what the engine's consumer sees, whatever the API server and network do.

Each fault test checks the two promises the consumer relies on: every object's final state arrives, and each
object's resourceVersions arrive strictly increasing (nothing repeated, nothing older after newer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kubedog_ci.kube import informer as informer_module
from kubedog_ci.kube.informer import Informer, decode_list
from kubedog_ci.kube.messages import ObjectEvent, Synced, WatchFailed
from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule, Faults
from tests.kube.support import (
    CONFIGMAPS,
    DEPLOYMENTS,
    PODS,
    STOP_WITHIN,
    Collector,
    api_client_for,
    closed_port,
    proxied,
    strictly_increasing,
    versions,
)
from tests.support import Kube, kube_for, make_kube, wait_until

Start = Callable[[threading.Thread], threading.Thread]


@pytest.fixture
def cluster_kube(sim_factory: Callable[..., SimCluster]) -> Iterator[Callable[..., Kube]]:
    """Client handles for a cluster started with the given SimConfig settings."""
    opened = []

    def make(**settings: object) -> Kube:
        context = kube_for(sim_factory(**settings))
        opened.append(context)
        return context.__enter__()

    yield make
    for context in opened:
        context.__exit__(None, None, None)


def configmap(name: str, value: int = 0, labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"n": str(value)}}


def deployment(name: str, replicas: int = 2) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    return (status.get("observedGeneration") == obj["metadata"].get("generation")
            and status.get("availableReplicas") == obj["spec"]["replicas"]
            and status.get("updatedReplicas") == obj["spec"]["replicas"])


def read_deployment(kube: Kube, name: str) -> dict:
    return kube.api_client.sanitize_for_serialization(kube.apps.read_namespaced_deployment(name, "default"))


def assert_consistent(collector: Collector) -> None:
    """Per object (uid), resourceVersions strictly increase and nothing follows its DELETED (a DELETED found by
    a relist carries the last state known, so its version may equal the one before)."""
    by_uid: dict[str, list[ObjectEvent]] = {}
    for event in collector.objects():
        by_uid.setdefault(event.obj["metadata"]["uid"], []).append(event)
    for events in by_uid.values():
        seen = versions(events)
        live = seen[:-1] if events[-1].type == "DELETED" else seen
        assert strictly_increasing(live) and seen[-1] >= live[-1], [(e.type, versions([e])) for e in events]
        assert events[0].type == "ADDED"
        assert all(e.type == "MODIFIED" for e in events[1:-1])
        assert events[-1].type in ("ADDED", "MODIFIED", "DELETED") and (len(events) == 1
                                                                      or events[-1].type != "ADDED")


def test_lists_then_syncs_then_streams_changes(kube: Kube, collector: Collector, stop: threading.Event,
                                               start: Start) -> None:
    kube.core.create_namespaced_config_map("default", configmap("one"))
    kube.core.create_namespaced_config_map("default", configmap("two"))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop))
    collector.until(lambda items: any(isinstance(e, Synced) for e in items), message="Synced")
    first = collector.pull()[:]
    assert [(type(e).__name__, getattr(e, "type", None)) for e in first] == [
        ("ObjectEvent", "ADDED"), ("ObjectEvent", "ADDED"), ("Synced", None)]
    assert sorted(e.obj["metadata"]["name"] for e in first if isinstance(e, ObjectEvent)) == ["one", "two"]
    assert all(e.obj["kind"] == "ConfigMap" and e.obj["apiVersion"] == "v1" for e in first
               if isinstance(e, ObjectEvent))
    assert first[-1] == Synced(CONFIGMAPS, "default")

    kube.core.create_namespaced_config_map("default", configmap("three"))
    kube.core.patch_namespaced_config_map("one", "default", {"data": {"n": "1"}})
    kube.core.delete_namespaced_config_map("two", "default")
    collector.until(lambda items: len(items) >= 6, message="three more events")
    later = collector.pull()[3:]
    assert [(e.type, e.obj["metadata"]["name"]) for e in later] == [  # type: ignore[union-attr]
        ("ADDED", "three"), ("MODIFIED", "one"), ("DELETED", "two")]
    assert later[1].obj["data"] == {"n": "1"}  # type: ignore[union-attr]
    time.sleep(0.1)
    assert len(collector.pull()) == 6 and collector.synced() == 1


def test_selectors_filter_and_leaving_the_selector_is_a_deletion(kube: Kube, collector: Collector,
                                                                 stop: threading.Event, start: Start) -> None:
    kube.core.create_namespaced_config_map("default", configmap("in", labels={"tier": "web"}))
    kube.core.create_namespaced_config_map("default", configmap("out", labels={"tier": "db"}))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop, label_selector="tier=web",
                   field_selector="metadata.name!=ignored"))
    collector.until(lambda items: collector.synced(), message="Synced")
    assert [e.obj["metadata"]["name"] for e in collector.objects()] == ["in"]
    kube.core.patch_namespaced_config_map("in", "default", {"metadata": {"labels": {"tier": "db"}}})
    kube.core.patch_namespaced_config_map("out", "default", {"metadata": {"labels": {"tier": "web"}}})
    collector.until(lambda items: len(collector.objects()) == 3, message="selector transitions")
    assert [(e.type, e.obj["metadata"]["name"]) for e in collector.objects()] == [
        ("ADDED", "in"), ("DELETED", "in"), ("ADDED", "out")]


def test_all_namespaces_and_cluster_scope(kube: Kube, collector: Collector, stop: threading.Event,
                                          start: Start) -> None:
    kube.core.create_namespace({"metadata": {"name": "other"}})
    kube.core.create_namespaced_config_map("other", configmap("elsewhere"))
    start(Informer(kube.api_client, CONFIGMAPS, None, collector.queue, stop=stop))
    collector.until(lambda items: collector.synced(), message="Synced")
    assert ("other", "elsewhere") in {(e.obj["metadata"]["namespace"], e.obj["metadata"]["name"])
                                      for e in collector.objects()}


def test_watch_drops_lose_no_update_and_repeat_none(cluster_kube: Callable[..., Kube], collector: Collector,
                                                    stop: threading.Event, start: Start) -> None:
    kube = cluster_kube(faults=Faults(watch_drop=0.3))
    names = [f"cm{i}" for i in range(5)]
    for name in names:
        kube.core.create_namespaced_config_map("default", configmap(name))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop))
    collector.until(lambda items: collector.synced(), message="Synced")
    watches_before = kube.cluster.server.stats.watches_total  # type: ignore[union-attr]
    for value in range(1, 31):
        for name in names:
            kube.core.patch_namespaced_config_map(name, "default", {"data": {"n": str(value)}})
        time.sleep(0.02)
    collector.until(lambda items: all(collector.latest()[n].obj["data"]["n"] == "30" for n in names),
                    message="every final state")
    assert kube.cluster.server.stats.watches_total - watches_before >= 2  # type: ignore[union-attr]
    assert_consistent(collector)
    for name in names:  # resumed from the last resourceVersion: every single transition was seen, in order
        assert [e.obj["data"]["n"] for e in collector.objects(name)] == [str(v) for v in range(31)]
    assert collector.synced() == 1 and not collector.failures()


def test_transition_while_disconnected_is_reported_after_410(sim_factory: Callable[..., SimCluster],
                                                             collector: Collector, stop: threading.Event,
                                                             start: Start) -> None:
    """The network goes away; meanwhile a Deployment becomes Ready, another is deleted and the history the
    watch would resume from is compacted (history_window=2). Back online, the informer gets 410, relists and
    reports exactly the changes: the Deployment's Ready state, the deletion; nothing unchanged again."""
    cluster = sim_factory(history_window=2)
    with kube_for(cluster) as kube, proxied(cluster.url) as proxy:
        kube.apps.create_namespaced_deployment("default", deployment("doomed", replicas=1))
        kube.apps.create_namespaced_deployment("default", deployment("steady", replicas=1))
        wait_until(lambda: ready(read_deployment(kube, "steady")) and ready(read_deployment(kube, "doomed")),
                   message="steady and doomed Ready")
        informer = start(Informer(api_client_for(proxy.url), DEPLOYMENTS, "default", collector.queue, stop=stop))
        collector.until(lambda items: collector.synced(), message="first Synced")
        steady_before = len(collector.objects("steady"))

        proxy.pause()
        kube.apps.create_namespaced_deployment("default", deployment("web"))
        kube.apps.delete_namespaced_deployment("doomed", "default")
        wait_until(lambda: ready(read_deployment(kube, "web")), message="web Ready while disconnected")
        proxy.resume()

        collector.until(lambda items: collector.synced() == 2, message="Synced after the relist")
        assert isinstance(informer, Informer) and informer.relists >= 1
        web = collector.objects("web")
        assert web[0].type == "ADDED" and ready(web[-1].obj), web[-1].obj.get("status")
        assert [e.type for e in collector.objects("doomed")][-1] == "DELETED"
        assert len(collector.objects("steady")) == steady_before
        assert_consistent(collector)
        assert not collector.failures()
        notes = [note.message for note in collector.notes]
        assert 'watch deployments.apps in namespace "default": resourceVersion too old (410 Gone); listing again' \
            in notes, notes
        assert any(note.startswith('watch deployments.apps in namespace "default": ') and
                   "; resuming from resourceVersion " in note for note in notes), notes


def test_random_410s_still_reach_the_final_state(cluster_kube: Callable[..., Kube], collector: Collector,
                                                 stop: threading.Event, start: Start) -> None:
    kube = cluster_kube(history_window=3, faults=Faults(gone=0.5, watch_drop=0.1))
    informer = start(Informer(kube.api_client, DEPLOYMENTS, "default", collector.queue, stop=stop))
    collector.until(lambda items: collector.synced(), message="Synced")
    kube.apps.create_namespaced_deployment("default", deployment("web", replicas=3))
    collector.until(lambda items: "web" in collector.latest() and ready(collector.latest()["web"].obj)
                    and informer.relists >= 1, message="web Ready and at least one relist")  # type: ignore[attr-defined]
    assert_consistent(collector)
    assert not collector.failures()


def test_http_errors_are_retried(cluster_kube: Callable[..., Kube], collector: Collector, stop: threading.Event,
                                 start: Start) -> None:
    kube = cluster_kube(faults=Faults(http_error=0.3, watch_drop=0.2))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop))
    for value in range(5):
        for _ in range(20):  # the test's own writes meet the injected errors too
            try:
                if value == 0:
                    kube.core.create_namespaced_config_map("default", configmap("flaky"))
                else:
                    kube.core.patch_namespaced_config_map("flaky", "default", {"data": {"n": str(value)}})
                break
            except Exception as err:  # an injected 429/500/503
                assert getattr(err, "status", None) in (429, 500, 503)
        time.sleep(0.05)
    collector.until(lambda items: "flaky" in collector.latest()
                    and collector.latest()["flaky"].obj["data"]["n"] == "4", timeout=20, message="final state")
    assert_consistent(collector)
    assert not collector.failures()


def test_forbidden_watch_fails_with_the_servers_message(cluster_kube: Callable[..., Kube], collector: Collector,
                                                         stop: threading.Event, start: Start) -> None:
    kube = cluster_kube(deny=(DenyRule("watch", "pods"),))
    informer = start(Informer(kube.api_client, PODS, "default", collector.queue, stop=stop))
    collector.until(lambda items: collector.failures(), message="WatchFailed")
    informer.join(2)
    assert not informer.is_alive()
    failed = collector.failures()[0]
    assert failed == WatchFailed(PODS, "default", failed.message, 403)
    assert failed.message == (
        f'the Kubernetes API server at {kube.cluster.url} refused to watch pods in namespace "default" '
        '(403 Forbidden): pods is forbidden: User "system:admin" cannot watch resource "pods" in API group "" '
        'in the namespace "default"')
    assert collector.synced() == 1  # the list was allowed


def test_unreachable_server_fails_after_the_api_timeout(collector: Collector, stop: threading.Event,
                                                         start: Start) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    began = time.monotonic()
    informer = start(Informer(api_client_for(url), DEPLOYMENTS, "web", collector.queue, stop=stop,
                              api_timeout=0.5))
    collector.until(lambda items: collector.failures(), timeout=5, message="WatchFailed")
    assert 0.5 <= time.monotonic() - began < 2.5
    informer.join(1)
    assert not informer.is_alive()
    failed = collector.failures()[0]
    assert failed.status is None and failed.namespace == "web"
    assert failed.message.startswith(f'cannot list deployments.apps in namespace "web": the Kubernetes API server '
                                     f"at {url} has not answered successfully for ")
    assert "Connection refused" in failed.message and "HTTPConnectionPool" not in failed.message


def test_an_outage_longer_than_the_api_timeout_ends_the_watch(sim: SimCluster, collector: Collector,
                                                               stop: threading.Event, start: Start) -> None:
    with proxied(sim.url) as proxy:
        start(Informer(api_client_for(proxy.url), CONFIGMAPS, "default", collector.queue, stop=stop,
                       api_timeout=0.4))
        collector.until(lambda items: collector.synced(), message="Synced")
        proxy.pause()
        collector.until(lambda items: collector.failures(), timeout=5, message="WatchFailed")
    assert "cannot watch configmaps in namespace \"default\"" in collector.failures()[0].message


def test_stop_ends_an_idle_watch_and_a_back_off_promptly(sim: SimCluster, collector: Collector) -> None:
    stop = threading.Event()
    with kube_for(sim) as kube:
        idle = Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop)
        waiting = Informer(api_client_for(f"http://127.0.0.1:{closed_port()}"), CONFIGMAPS, "default",
                           collector.queue, stop=stop)
        idle.start()
        waiting.start()
        collector.until(lambda items: collector.synced(), message="Synced")
        time.sleep(0.3)
        began = time.monotonic()
        stop.set()
        idle.join(2)
        waiting.join(2)
        assert not idle.is_alive() and not waiting.is_alive()
        assert time.monotonic() - began < STOP_WITHIN
    assert not collector.failures()


def test_the_kubeconfig_token_is_sent_and_a_wrong_one_refused(cluster_kube: Callable[..., Kube],
                                                                collector: Collector, stop: threading.Event,
                                                                start: Start) -> None:
    kube = cluster_kube(token="s3cret-token")
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop))
    collector.until(lambda items: collector.synced(), message="Synced with the token")

    wrong = Collector()
    start(Informer(api_client_for(kube.cluster.url), CONFIGMAPS, "default", wrong.queue, stop=stop))
    wrong.until(lambda items: wrong.failures(), message="WatchFailed")
    failed = wrong.failures()[0]
    assert failed.status == 401 and "s3cret-token" not in failed.message
    assert failed.message == (f"the Kubernetes API server at {kube.cluster.url} refused to list configmaps in "
                              'namespace "default" (401 Unauthorized): Unauthorized')


# --- collections watched from a resourceVersion (Events), paginated lists ---------------------------------------------


def test_a_collection_watched_from_now_is_not_listed(sim: SimCluster, collector: Collector, stop: threading.Event,
                                                      start: Start) -> None:
    assert sim.server is not None
    with kube_for(sim) as kube:
        for n in range(3):
            kube.core.create_namespaced_config_map("default", configmap(f"old{n}"))
        lists = sim.server.stats.snapshot()["requests"].get("list", 0)
        informer = start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop, since=""))
        collector.until(lambda items: collector.synced(), message="Synced")
        assert isinstance(informer, Informer)
        wait_until(lambda: informer._rv, message="the collection's version")  # taken by a list of one
        assert sim.server.stats.snapshot()["requests"]["list"] == lists + 1
        kube.core.create_namespaced_config_map("default", configmap("new"))
        collector.until(lambda items: collector.objects(), message="the new one")
        time.sleep(0.1)
        assert [(e.type, e.obj["metadata"]["name"]) for e in collector.objects()] == [("ADDED", "new")]
        assert isinstance(collector.pull()[0], Synced)


def test_from_a_version_taken_before_what_came_since_is_replayed(kube: Kube, collector: Collector,
                                                                  stop: threading.Event, start: Start) -> None:
    kube.core.create_namespaced_config_map("default", configmap("before"))
    mark = kube.core.list_namespaced_config_map("default", limit=1).metadata.resource_version
    kube.core.create_namespaced_config_map("default", configmap("between"))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop, since=mark))
    collector.until(lambda items: collector.objects(), message="the one created after the mark")
    time.sleep(0.1)
    assert [e.obj["metadata"]["name"] for e in collector.objects()] == ["between"]


def test_from_a_version_the_server_no_longer_holds_a_new_one_is_taken(
        sim_factory: Callable[..., SimCluster], collector: Collector, stop: threading.Event, start: Start) -> None:
    kube = make_kube(sim_factory(history_window=2))
    mark = kube.core.list_namespaced_config_map("default", limit=1).metadata.resource_version
    for n in range(5):
        kube.core.create_namespaced_config_map("default", configmap(f"lost{n}"))
    start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop, since=mark))
    collector.until(lambda items: collector.notes, message="the note that a new version was taken")
    kube.core.create_namespaced_config_map("default", configmap("later"))
    collector.until(lambda items: collector.objects(), message="the one created after the new version")
    assert [e.obj["metadata"]["name"] for e in collector.objects()] == ["later"]
    assert any(note.message.startswith(f'watch configmaps in namespace "default": resourceVersion {mark} too old '
                                       "(410 Gone); watching from ") and note.message.endswith(
        "what happened in between is not seen") for note in collector.notes), collector.notes
    assert collector.synced() == 1 and not collector.failures()


def test_lists_are_read_a_page_at_a_time(sim: SimCluster, collector: Collector, stop: threading.Event,
                                        start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sim.server is not None
    monkeypatch.setattr(informer_module, "PAGE_SIZE", 2)
    with kube_for(sim) as kube:
        for n in range(5):
            kube.core.create_namespaced_config_map("default", configmap(f"cm{n}"))
        lists = sim.server.stats.snapshot()["requests"].get("list", 0)
        start(Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop))
        collector.until(lambda items: collector.synced(), message="Synced")
        assert sorted(e.obj["metadata"]["name"] for e in collector.objects()) == [f"cm{n}" for n in range(5)]
        assert all(e.type == "ADDED" for e in collector.objects())
        assert sim.server.stats.snapshot()["requests"]["list"] == lists + 3


def test_an_expired_continue_token_lists_again_and_reports_only_what_changed(
        sim_factory: Callable[..., SimCluster], collector: Collector, stop: threading.Event, start: Start,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two pages the server compacts the snapshot they are read from (410 on the continue token): the list
    starts over; the objects already reported are reported again only in their newer versions."""
    monkeypatch.setattr(informer_module, "PAGE_SIZE", 1)
    kube = make_kube(sim_factory(history_window=3))
    for n in range(3):
        kube.core.create_namespaced_config_map("default", configmap(f"cm{n}"))
    informer = Informer(kube.api_client, CONFIGMAPS, "default", collector.queue, stop=stop)
    pages = []
    read = informer._requests.get_bytes

    def page_then_churn(path: str, query: dict[str, str] | None = None) -> bytes:
        pages.append(dict(query or {}))
        data = read(path, query)
        if len(pages) == 1:
            for value in range(5):  # past the history window: the first page's snapshot is gone
                kube.core.patch_namespaced_config_map("cm2", "default", {"data": {"n": str(value + 1)}})
        return data

    monkeypatch.setattr(informer._requests, "get_bytes", page_then_churn)
    start(informer)
    collector.until(lambda items: collector.synced(), message="Synced")
    assert "continue" in pages[1] and "continue" not in pages[2]  # the second page was refused: listed again
    latest = collector.latest()
    assert sorted(latest) == ["cm0", "cm1", "cm2"] and latest["cm2"].obj["data"] == {"n": "5"}
    assert [e.type for e in collector.objects("cm0")] == ["ADDED"]  # reported once, unchanged since
    assert_consistent(collector)
    assert any("the continue token expired (410 Gone); listing again" in note.message for note in collector.notes)


@pytest.mark.parametrize(("text", "rest", "items"), [
    ('{"kind":"PodList","metadata":{"continue":"x"},"items":[{"a":1}, {"b":[1,2]} ]}',
     {"kind": "PodList", "metadata": {"continue": "x"}}, [{"a": 1}, {"b": [1, 2]}]),
    (' { "items" : [ ] , "metadata" : { } } ', {"metadata": {}}, []),
    ('{"items":null}', {"items": None}, []),
    ('{}', {}, []),
])
def test_a_list_is_decoded_one_item_at_a_time(text: str, rest: dict, items: list) -> None:
    found: list = []
    assert decode_list(text.encode(), found.append) == rest
    assert found == items


@pytest.mark.parametrize("text", ['[1]', '{"items":[{"a":1}', '{"a":1 "b":2}', '', '{"items":[1 2]}'])
def test_anything_but_a_json_object_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode_list(text.encode(), lambda item: None)
