"""`kubedog follow`: the tracking loop that never ends on verdicts.

A target with a verdict re-opens when its object starts a new revision, with a fresh failure budget, so its new
Pods are judged and followed, and when one of its current Pods shows a new failure sign after the verdict (a
restart, an OOM kill); a deleted one is reported and waited for; the logs of current Pods that start after the
verdict are still followed. Only a stop request or a cluster error ends the run (Options.follow).
"""

from __future__ import annotations

from kubedog_ci.engine.budget import Budget
from kubedog_ci.engine.state import TargetState
from kubedog_ci.engine.tracker import Tracker
from kubedog_ci.reasons import ReasonClass
from kubedog_ci.rules import State, Verdict
from kubedog_ci.rules.objects import meta, uid


class Follower(Tracker):
    """A Tracker whose verdicts re-open; run it with Options(follow=True)."""

    def _target_changed(self, state: TargetState, change: str, obj: dict) -> None:
        state.active = self.clock()
        if change == "DELETED":
            for pod in state.pods.values():
                state.budget.forget(uid(pod))
            previous, state.pods, state.obj = state.pods, {}, None
            for pod in previous.values():
                self._unfollow(pod)
            self._reopen(state)
            self._report(state, Verdict(State.PROGRESSING, "Deleted",
                                        f"{state.subject} was deleted: waiting for it to be created again"))
            return
        self._first_sight(state, obj)
        previous_obj, state.obj = state.obj, obj
        if state.final and (previous_obj is None or _new_revision(previous_obj, obj)):
            self._reopen(state)
        self._refresh(state)

    def _reopen(self, state: TargetState) -> None:
        if state.final:
            state.final, state.finished, state.diagnosis = False, None, None
            state.budget = Budget(state.allowed(), self.options.grace_scale)
            state.started = self.clock()

    def _refresh_final(self, state: TargetState) -> None:
        """Its current Pods are not judged any more, but the logs of those that start later (the last of a revision
        can start after the verdict) are still followed."""
        pods = {uid(pod): pod for pod in state.profile.current_pods(state.obj or {}, self.view)}
        self.secrets.read(state.target.namespace, list(pods.values()))
        previous, state.pods = state.pods, pods
        for gone in set(previous) - set(pods):
            self._unfollow(previous[gone])
        if self.options.logs:
            for pod in pods.values():
                self._follow(pod)
        fresh = [problem for pod in pods.values() for problem in state.profile.pod_problems(pod)
                 if problem.classification.cls is not ReasonClass.INFO and not state.budget.known(problem)]
        if fresh:  # a restart, an OOM kill, a failed start after the verdict: judged again, like a new revision
            self._reopen(state)
            self._report(state, Verdict(State.PROGRESSING, fresh[0].reason,
                                        f"{fresh[0].describe()} (after it was {state.state})"))
            self._refresh(state)


def _new_revision(old: dict, new: dict) -> bool:
    """Whether `new` starts a revision `old` did not have: its generation grew, or, for objects without one
    (Pods), a new resourceVersion came with a changed spec."""
    old_generation, new_generation = meta(old).get("generation"), meta(new).get("generation")
    if old_generation is not None and new_generation is not None:
        return int(new_generation) > int(old_generation)
    return meta(new).get("resourceVersion") != meta(old).get("resourceVersion") and \
        new.get("spec") != old.get("spec")
