"""CustomResourceDefinition: readiness-rules.md ("CustomResourceDefinition", Recommended)."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource

NAMES_OK = cond("NamesAccepted", "True", "NoConflicts", "no conflicts found")
ESTABLISHED = cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")


def crd(*conditions: dict, api_version: str = "apiextensions.k8s.io/v1") -> dict:
    return resource(api_version, "CustomResourceDefinition", "widgets.example.com",
                    spec={"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}},
                    status={"acceptedNames": {"kind": "Widget"}}, conditions=list(conditions))


CASES = [
    pytest.param(crd(NAMES_OK, ESTABLISHED), READY, "Established",
                 'customresourcedefinition "widgets.example.com" is established', id="established"),
    pytest.param(crd(ESTABLISHED, api_version="apiextensions.k8s.io/v1beta1"), READY, "Established", "established",
                 id="v1beta1"),
    pytest.param(crd(), PROGRESSING, "NotEstablished", "to be established", id="no-conditions-yet"),
    pytest.param(crd(NAMES_OK, cond("Established", "False", "Installing", "the initial names have been accepted")),
                 PROGRESSING, "Installing", "to be established", id="installing"),
    # §4.9: Helm lets a name conflict pass, kapp waits on it forever, kstatus fails it. Failed.
    pytest.param(crd(cond("NamesAccepted", "False", "ListKindConflict", '"WidgetList" is already in use'),
                     cond("Established", "False", "NotAccepted", "not all names are accepted")),
                 FAILED, "ListKindConflict", 'names not accepted: ListKindConflict: "WidgetList" is already in use',
                 id="names-not-accepted"),
    pytest.param(crd(cond("Established", "False", "NotAccepted", "not all names are accepted")), FAILED,
                 "NotAccepted", "not established: NotAccepted", id="established-false-not-accepted"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_crd_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
