"""ownerReferences as controllers read and write them (metav1.GetControllerOf, metav1.NewControllerRef).

The store indexes objects by their controller's uid, the controllers adopt, release and create owned objects,
and the garbage collector follows the same references, so all of them read a controller reference one way.
"""

from __future__ import annotations


def controller_of(obj: dict) -> dict | None:
    """metav1.GetControllerOf: the ownerReference with controller: true (malformed references are skipped)."""
    refs = obj["metadata"].get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def controller_uid(obj: dict) -> str | None:
    """The uid of `obj`'s controlling ownerReference: None when there is none (an orphan), "" when that
    reference carries no string uid, so it names no owner."""
    ref = controller_of(obj)
    if ref is None:
        return None
    uid = ref.get("uid")
    return uid if isinstance(uid, str) else ""


def new_controller_ref(owner: dict) -> dict:
    """metav1.NewControllerRef: what a controller stamps on the objects it creates."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def with_owner(obj: dict, ref: dict | None, uid: str) -> dict:
    """`obj` adopted by `ref`, or released when `ref` is None, from the owner with this uid: a new object that
    shares everything but its metadata with `obj`, so the stored object is left as it is."""
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    if ref:
        refs.append(ref)
    meta = dict(obj["metadata"])
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
    return {**obj, "metadata": meta}
