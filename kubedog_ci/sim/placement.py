"""Which nodes a pod may run on: taint tolerations and required node affinity.

The scheduler filters nodes with these predicates and the DaemonSet controller decides with the same ones
where a daemon pod should run, so both must agree on every pod spec and node (k8s.io/api's ToleratesTaint,
component-helpers' nodeaffinity and v1helper.FindMatchingUntoleratedTaint).
"""

from __future__ import annotations

from collections.abc import Iterable

NODE_NAME_FIELD = "metadata.name"
"""The one matchFields key a NodeSelectorRequirement may use."""
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
"""Taint effects that keep a pod off a node; PreferNoSchedule only lowers its score."""


def tolerates(toleration: dict, taint: dict) -> bool:
    """v1.Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(taints: Iterable[dict], tolerations: list[dict],
                      effects: Iterable[str] = BLOCKING_EFFECTS) -> dict | None:
    """v1helper.FindMatchingUntoleratedTaint: the first taint with one of `effects` no toleration covers."""
    wanted = set(effects)
    for taint in taints:
        if taint.get("effect") in wanted and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _number(text: object) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None


def requirement_matches(requirement: dict, values_by_key: dict[str, str]) -> bool:
    """A NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against labels or fields."""
    key, operator = requirement.get("key", ""), requirement.get("operator")
    values = requirement.get("values") or []
    present, value = key in values_by_key, values_by_key.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        have, bound = _number(value), _number(values[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def term_matches(term: dict, node: dict) -> bool:
    """A NodeSelectorTerm: all its expressions and fields match; an empty term matches nothing."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    node_fields = {NODE_NAME_FIELD: node["metadata"]["name"]}
    return (all(requirement_matches(e, labels) for e in expressions)
            and all(requirement_matches(f, node_fields) for f in fields))


def selector_matches(node_selector: dict | None, node: dict) -> bool:
    """A NodeSelector (a PV's or a pod's required affinity): its terms are ORed; a missing one admits all."""
    if node_selector is None:
        return True
    return any(term_matches(term, node) for term in node_selector.get("nodeSelectorTerms") or [])


def required_affinity(spec: dict) -> dict | None:
    """The pod spec's requiredDuringSchedulingIgnoredDuringExecution node selector, if any."""
    return ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")


def node_affinity_matches(spec: dict, node: dict) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): nodeSelector and required node affinity."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    return selector_matches(required_affinity(spec), node)


def affinity_node_names(spec: dict) -> set[str] | None:
    """NodeAffinity.PreFilter: the node names every term pins with matchFields metadata.name In (DaemonSet
    pods), or None when some term leaves all nodes eligible."""
    terms = (required_affinity(spec) or {}).get("nodeSelectorTerms") or []
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        pinned: set[str] | None = None
        for req in term.get("matchFields") or []:
            if req.get("key") == NODE_NAME_FIELD and req.get("operator") == "In":
                values = set(req.get("values") or [])
                pinned = values if pinned is None else pinned & values
        if pinned is None:
            return None
        names |= pinned
    return names
