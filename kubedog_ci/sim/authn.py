"""Who a request comes from: the admin of the default kubeconfig, or a ServiceAccount by its token.

Real CI rarely runs as cluster-admin: it holds a ServiceAccount token bound to a role in a namespace or two. The
simulator issues such tokens as a real API server does, through the TokenRequest subresource
(`POST .../serviceaccounts/NAME/token`, what `kubectl create token` calls) and, for a Secret of type
kubernetes.io/service-account-token, in the Secret's `data.token` (see controllers/tokens.py). A token is a JWT
with the real claims (`sub: system:serviceaccount:NS:NAME`, `kubernetes.io: {namespace, serviceaccount}`), signed
with a key of this cluster; it stays valid while it has not expired and its ServiceAccount (and, for a Secret's
token, that Secret) still exists with the same uid, as the real token authenticator checks.

The admin is `SimConfig.user` in group system:masters. With `SimConfig.token` set, a request needs that token or a
ServiceAccount's (401 otherwise); without it, a request with no credentials is the admin, as before RBAC existed
here, but a token that claims to be one of this simulator's and is not valid is still refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubedog_ci.sim import errors
from kubedog_ci.sim.clock import Clock, rfc3339
from kubedog_ci.sim.config import SimConfig
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.store import Store

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
ISSUER = "https://kubernetes.default.svc.cluster.local"
"""The issuer and default audience of bound tokens, as kind and kubeadm clusters configure them."""
LEGACY_ISSUER = "kubernetes/serviceaccount"
"""The issuer of the tokens the token controller puts in Secrets."""
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
SECRET_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"


@dataclass(frozen=True)
class UserInfo:
    """user.Info: the name, uid, groups and extra the authorizer and SelfSubjectReview see."""

    name: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)

    @property
    def privileged(self) -> bool:
        return MASTERS in self.groups

    def to_json(self) -> dict:
        info: dict = {"username": self.name}
        if self.uid:
            info["uid"] = self.uid
        info["groups"] = list(self.groups)
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


def admin(config: SimConfig) -> UserInfo:
    return UserInfo(config.user, (MASTERS, AUTHENTICATED))


def service_account_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def service_account_user(namespace: str, name: str, uid: str, extra: dict[str, list[str]] | None = None) -> UserInfo:
    """serviceaccount.UserInfo plus the authenticated group the union authenticator adds."""
    return UserInfo(service_account_username(namespace, name),
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED), uid,
                    extra or {})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and checks this cluster's ServiceAccount tokens (HS256 with a key made at start)."""

    def __init__(self, clock: Clock | None = None, key: bytes | None = None) -> None:
        self.clock = clock or Clock()
        self._key = key or os.urandom(32)
        self.kid = hashlib.sha256(self._key).hexdigest()[:43]
        self.ca_pem: str | None = None
        """The cluster CA (with TLS), which the token controller puts in a token Secret's `ca.crt`."""

    def _sign(self, claims: dict) -> str:
        header = _b64(json.dumps({"alg": "HS256", "kid": self.kid}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def bound_token(self, sa: dict, audiences: list[str], expiration: int) -> tuple[str, int]:
        """A TokenRequest's token for `sa` and its expiry (seconds since the epoch, the cluster's clock)."""
        now = int(self.clock.time())
        meta = sa["metadata"]
        claims = {"aud": audiences, "exp": now + expiration, "iat": now, "iss": ISSUER, "jti": str(uuid.uuid4()),
                  "kubernetes.io": {"namespace": meta["namespace"],
                                    "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}},
                  "nbf": now, "sub": service_account_username(meta["namespace"], meta["name"])}
        return self._sign(claims), now + expiration

    def legacy_token(self, sa: dict, secret: dict) -> str:
        """The never-expiring token the token controller writes into a service-account-token Secret."""
        meta = sa["metadata"]
        prefix = "kubernetes.io/serviceaccount/"
        return self._sign({"iss": LEGACY_ISSUER, f"{prefix}namespace": meta["namespace"],
                           f"{prefix}secret.name": secret["metadata"]["name"],
                           f"{prefix}service-account.name": meta["name"],
                           f"{prefix}service-account.uid": meta["uid"],
                           "sub": service_account_username(meta["namespace"], meta["name"])})

    def claims(self, token: str) -> dict | None:
        """The claims of a token that says it is one of ours (our issuer), verified; None for any other token.
        Raises 401 for one of ours whose signature is wrong."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict) or claims.get("iss") not in (ISSUER, LEGACY_ISSUER):
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(expected, _unb64(parts[2]))
        except ValueError:
            valid = False
        if not valid:
            raise errors.unauthorized()
        return claims


def authenticate(authorization: str, config: SimConfig, store: Store, issuer: TokenIssuer) -> UserInfo:
    """The user an Authorization header stands for (see the module docstring); raises 401."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if config.token and token == config.token:
        return admin(config)
    claims = issuer.claims(token) if token else None
    if claims is not None:
        return _service_account(claims, token, store, issuer)
    if config.token:
        raise errors.unauthorized()
    return admin(config)


def _service_account(claims: dict, token: str, store: Store, issuer: TokenIssuer) -> UserInfo:
    """The token authenticator's checks: not expired, and what the token was issued for still exists."""
    if claims.get("iss") == LEGACY_ISSUER:
        prefix = "kubernetes.io/serviceaccount/"
        namespace, name = claims.get(f"{prefix}namespace", ""), claims.get(f"{prefix}service-account.name", "")
        uid = claims.get(f"{prefix}service-account.uid", "")
        secret = store.get("/secrets", namespace, claims.get(f"{prefix}secret.name", ""))
        stored = ((secret or {}).get("data") or {}).get("token", "")
        if secret is None or base64.b64decode(stored or "").decode(errors="replace") != token:
            raise errors.unauthorized()
        extra: dict[str, list[str]] = {}
    else:
        now = issuer.clock.time()
        if not now < claims.get("exp", 0) or claims.get("nbf", 0) > now + 60:
            raise errors.unauthorized()
        bound = claims.get("kubernetes.io") or {}
        namespace = bound.get("namespace", "")
        name, uid = (bound.get("serviceaccount") or {}).get("name", ""), (bound.get("serviceaccount") or {}).get(
            "uid", "")
        extra = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}
    sa = store.get("/serviceaccounts", namespace, name)
    if sa is None or sa["metadata"].get("uid") != uid:
        raise errors.unauthorized()
    return service_account_user(namespace, name, uid, extra)


def token_request(store: Store, issuer: TokenIssuer, namespace: str, name: str, body: dict) -> dict:
    """POST serviceaccounts/NAME/token: a bound token for the ServiceAccount, as the TokenRequest REST answers."""
    sa = store.get("/serviceaccounts", namespace, name)
    if sa is None:
        raise ApiError(404, "NotFound", f'serviceaccounts "{name}" not found',
                       {"name": name, "kind": "serviceaccounts"})
    spec = dict(body.get("spec") or {})
    expiration = spec.get("expirationSeconds") or DEFAULT_EXPIRATION
    if not isinstance(expiration, int) or expiration < MIN_EXPIRATION:
        cause = f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"
        raise ApiError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                       f"spec.expirationSeconds: {cause}",
                       {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                        "causes": [{"reason": "FieldValueInvalid", "message": cause,
                                    "field": "spec.expirationSeconds"}]})
    spec["audiences"] = spec.get("audiences") or [ISSUER]
    spec["expirationSeconds"] = expiration
    spec.setdefault("boundObjectRef", None)
    token, expires = issuer.bound_token(sa, spec["audiences"], expiration)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None}, "spec": spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(datetime.fromtimestamp(expires, UTC))}}


def self_subject_review(user: UserInfo) -> dict:
    """POST selfsubjectreviews (`kubectl auth whoami`): the requester's own user info."""
    return {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "status": {"userInfo": user.to_json()}}
