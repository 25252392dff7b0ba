"""tokens-controller, after pkg/controller/serviceaccount/tokens_controller.go.

CI systems that predate TokenRequest still create a Secret of type kubernetes.io/service-account-token annotated
with a ServiceAccount's name and read `data.token` from it once the controller has filled it in: the token (one
that does not expire, valid while the Secret and the ServiceAccount exist), `namespace`, `ca.crt` (with TLS), and
the ServiceAccount's uid in an annotation. A Secret for a ServiceAccount that does not exist (yet) waits for it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from kubedog_ci.sim.authn import SA_NAME_ANNOTATION, SA_UID_ANNOTATION, SECRET_TYPE
from kubedog_ci.sim.controllers.base import Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.store import Change, clone


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TokensController(Controller):
    name = "tokens-controller"
    watches = ("/secrets", "/serviceaccounts")

    def keys_for(self, change: Change) -> Iterable[Key]:
        meta = change.obj["metadata"]
        namespace = meta.get("namespace", "")
        if change.key == "/secrets":
            return [(namespace, meta["name"])] if change.obj.get("type") == SECRET_TYPE else []
        secrets, _ = self.store.list("/secrets", namespace)
        return [(namespace, s["metadata"]["name"]) for s in secrets if s.get("type") == SECRET_TYPE
                and (s["metadata"].get("annotations") or {}).get(SA_NAME_ANNOTATION) == meta["name"]]

    def sync(self, namespace: str, name: str) -> None:
        secret = self.store.get("/secrets", namespace, name)
        if secret is None or secret.get("type") != SECRET_TYPE or (secret.get("data") or {}).get("token"):
            return
        annotations = secret["metadata"].get("annotations") or {}
        sa = self.store.get("/serviceaccounts", namespace, annotations.get(SA_NAME_ANNOTATION, ""))
        if sa is None or annotations.get(SA_UID_ANNOTATION, sa["metadata"]["uid"]) != sa["metadata"]["uid"]:
            return
        updated = clone(secret)
        updated["metadata"].setdefault("annotations", {})[SA_UID_ANNOTATION] = sa["metadata"]["uid"]
        data = updated.setdefault("data", {})
        data["token"] = _b64(self.ctx.tokens.legacy_token(sa, secret))
        data["namespace"] = _b64(namespace)
        if self.ctx.tokens.ca_pem:
            data["ca.crt"] = _b64(self.ctx.tokens.ca_pem)
        try:
            self.api.update(self.api.rt("/secrets"), namespace, name, updated)
        except ApiError:
            self.enqueue((namespace, name), after=1.0)


CONTROLLERS = (TokensController,)
