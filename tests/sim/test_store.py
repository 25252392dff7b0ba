"""The object store: resourceVersions, watch fan-out with selector transitions, history window, owner index."""

from __future__ import annotations

import pytest

from kubedog_ci.sim.store import Expired, Store, Watcher


def obj(name: str, labels: dict | None = None, owner: str | None = None, namespace: str = "ns") -> dict:
    meta: dict = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet", "name": "rs"}]
    return {"metadata": meta}


def drain(watcher: Watcher) -> list[tuple[str, str]]:
    out = []
    while not watcher.empty():
        kind, change = watcher.next(timeout=0)
        out.append((kind, change.obj["metadata"]["name"]))
    return out


def test_every_write_gets_the_next_resource_version_and_stored_objects_are_copies() -> None:
    store = Store()
    given = obj("a")
    created = store.create("/pods", given)
    given["metadata"]["name"] = "changed"
    assert store.get("/pods", "ns", "a") is created
    first = int(created["metadata"]["resourceVersion"])
    updated = store.replace("/pods", obj("a", {"x": "1"}))
    deleted = store.delete("/pods", "ns", "a")
    assert [int(o["metadata"]["resourceVersion"]) for o in (updated, deleted)] == [first + 1, first + 2]
    assert store.get("/pods", "ns", "a") is None


def test_watchers_see_label_selector_transitions_as_added_and_deleted() -> None:
    store = Store()
    watcher, backlog = store.watch("/pods", None, lambda o: o["metadata"]["labels"].get("app") == "web")
    assert backlog == []
    store.create("/pods", obj("a", {"app": "db"}))
    store.replace("/pods", obj("a", {"app": "web"}))
    store.replace("/pods", obj("a", {"app": "web", "v": "2"}))
    store.replace("/pods", obj("a", {"app": "db"}))
    store.create("/pods", obj("b", {"app": "web"}))
    store.delete("/pods", "ns", "b")
    assert drain(watcher) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "b"), ("DELETED", "b")]


def test_watch_from_a_resource_version_replays_the_history_and_expires_beyond_the_window() -> None:
    store = Store(history_window=3)
    created = [store.create("/cm", obj(f"c{n}")) for n in range(5)]
    since = int(created[2]["metadata"]["resourceVersion"])
    watcher, backlog = store.watch("/cm", since, lambda o: True)
    assert [c.obj["metadata"]["name"] for _, c in backlog] == ["c3", "c4"]
    with pytest.raises(Expired) as gone:
        store.watch("/cm", int(created[0]["metadata"]["resourceVersion"]), lambda o: True)
    assert str(gone.value).startswith("too old resource version: ")
    watcher.close()
    assert store.watcher_count() == 0


def test_owner_index_follows_adoption_release_and_deletion() -> None:
    store = Store()
    store.create("/pods", obj("p1", owner="rs-1"))
    store.create("/pods", obj("p2", owner="rs-1"))
    store.create("/pods", obj("p3"))
    store.create("/pods", obj("p4", owner="rs-1", namespace="other"))
    assert [o["metadata"]["name"] for o in store.owned("/pods", "ns", "rs-1")] == ["p1", "p2"]
    assert [o["metadata"]["name"] for o in store.owned("/pods", "ns", None)] == ["p3"]
    store.replace("/pods", obj("p3", owner="rs-1"))
    store.replace("/pods", obj("p1"))
    store.delete("/pods", "ns", "p2")
    assert [o["metadata"]["name"] for o in store.owned("/pods", "ns", "rs-1")] == ["p3"]
    assert [o["metadata"]["name"] for o in store.owned("/pods", "ns", "rs-1", None)] == ["p1", "p3"]
