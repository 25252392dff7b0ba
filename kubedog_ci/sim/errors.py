"""API errors as the real API server reports them: an exception carrying a metav1.Status body."""

from __future__ import annotations

from kubedog_ci.sim.resources import ResourceType


class ApiError(Exception):
    """Raised anywhere inside the simulator; the HTTP layer answers with `status` as the body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> dict:
        body: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str) -> dict:
    details: dict = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"})


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", _details(rt, name))


def forbidden(rt: ResourceType, name: str, why: str) -> ApiError:
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(rt, name))


_NAMESPACE_TERMINATING = "because it is being terminated"


def namespace_terminating(rt: ResourceType, name: str, namespace: str) -> ApiError:
    """NamespaceLifecycle admission's 403 for a create in a namespace being deleted."""
    return forbidden(rt, name, f"unable to create new content in namespace {namespace} {_NAMESPACE_TERMINATING}")


def is_namespace_terminating(err: ApiError) -> bool:
    """The create failed because its namespace is being deleted, so it can never succeed (controllers then
    stay quiet instead of recording FailedCreate)."""
    return err.code == 403 and _NAMESPACE_TERMINATING in err.message


def invalid(rt: ResourceType, name: str, causes: list[dict]) -> ApiError:
    """422 Invalid; each cause is {"reason": "FieldValue…", "message": "…", "field": "spec.x"}."""
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    rendered = [f"{c['field']}: {c['message']}" for c in causes]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details = {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.kind, "causes": causes}
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                    f"accepted media types include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})")


def unsupported_body(content_type: str, why: str = "") -> ApiError:
    """415 for a body the simulator cannot read: NegotiateInputSerializer's message, plus why when known."""
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                    "media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
                    f" (got {content_type}{': ' + why if why else ''})")


def method_not_allowed() -> ApiError:
    """405 for a verb a resource does not serve (a GET of selfsubjectaccessreviews)."""
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as it is, several as "[a, b]"."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
