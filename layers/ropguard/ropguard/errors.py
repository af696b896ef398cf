"""Every exception ropguard raises, in one place.

::

    RopguardError                       base: catch this to catch anything of ours
    ├── RequestError                    the caller sent something we cannot use (a 4xx)
    │   ├── InvalidRequestError         body, size, type, encoding, fields -> 400 invalid_request
    │   ├── OriginNotVerifiedError      CloudFront mode: not proven to come through our distribution -> 403
    │   │   ├── OriginSecretMismatchError   X-Origin-Verify missing or wrong (current and previous tried)
    │   │   └── ViewerAddressError          verified, but CloudFront-Viewer-Address missing or unparsable
    │   └── RouteNotFoundError          a method and path this function does not serve -> 404
    ├── ClientAddressError              no usable end-user address: fail closed, Auth0 is never called
    ├── ConfigurationError              an environment variable is missing or invalid (names the variable)
    ├── SecretUnavailableError          Secrets Manager (or the extension) could not give usable credentials
    ├── UpstreamError                   Auth0 gave no answer we can classify
    │   ├── UpstreamTimeoutError        no answer in time; the request may have been counted
    │   └── UpstreamUnreachableError    no connection, or the exchange broke off
    ├── ResetFailedError                the password-reset email could not be requested
    │   ├── PermanentResetError         retrying cannot help: dead-letter with the reason
    │   └── TransientResetError         worth another delivery
    └── InvalidEventError               a security event that does not fit its schema (never echoes input)

The doctor (``ropguard_doctor``, not part of the Lambda layer) adds its own ``DoctorError`` branch in
``ropguard_doctor.errors``.

Messages are safe to log and, for ``RequestError``, to return to the caller: none ever holds a
password, secret, token, code or other credential. The HTTP answer for each class is chosen in one
table at the edge, never here: this module knows nothing of HTTP.
"""

from __future__ import annotations

from typing import Any


class RopguardError(Exception):
    """Base of every ropguard exception."""


class RequestError(RopguardError):
    """The caller's request cannot be served as sent; the message is safe to return to it."""


class InvalidRequestError(RequestError, ValueError):
    """Malformed or unacceptable input: the message says precisely what, never echoing a value."""


class OriginNotVerifiedError(RequestError):
    """In CloudFront mode, the request lacks a valid origin secret or a usable viewer address."""


class RouteNotFoundError(RequestError):
    """The event names a route this function does not serve (a template wiring mistake or a probe)."""


class OriginSecretMismatchError(OriginNotVerifiedError):
    """CloudFront mode: ``X-Origin-Verify`` is missing or matches neither the current nor previous secret."""


class ViewerAddressError(OriginNotVerifiedError):
    """CloudFront mode: the request is verified but ``CloudFront-Viewer-Address`` is missing or unparsable."""


class ClientAddressError(RopguardError):
    """The request context holds no usable end-user address: refuse rather than call Auth0 without it."""


class ConfigurationError(RopguardError, ValueError):
    """A missing or invalid environment variable; ``variable`` names it, the message never holds a secret."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.variable = name


class SecretUnavailableError(RopguardError):
    """The secret could not be read or does not hold usable credentials (message never holds values)."""


class UpstreamError(RopguardError):
    """Auth0 gave no answer that can be classified."""


class UpstreamTimeoutError(UpstreamError):
    """Auth0 did not answer in time; the request may have been counted."""


class UpstreamUnreachableError(UpstreamError):
    """No connection could be made, or the exchange broke off."""


class ResetFailedError(RopguardError):
    """The change_password request failed; ``reason`` is a short machine-readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentResetError(ResetFailedError):
    """Retrying cannot help (our misconfiguration, a refused request): dead-letter at once."""


class TransientResetError(ResetFailedError):
    """Worth retrying on a later delivery (timeouts, 5xx, rate limits)."""


class InvalidEventError(RopguardError, ValueError):
    """A security event that does not fit its schema; ``errors()`` lists each problem, never a value.

    Each problem is ``{"loc": (field,), "msg": ..., "type": ...}`` with pydantic's error type names,
    so the reset function's dead-letter reasons (``invalid_event:<field>:<type>``) stay as documented.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        described = (f"{'.'.join(map(str, p['loc'])) or 'event'}: {p['msg']}" for p in problems)
        super().__init__("; ".join(described))
        self._problems = problems

    def errors(self, *, include_input: bool = False) -> list[dict[str, Any]]:
        """The problems (``include_input`` is accepted for pydantic's signature; input is never kept)."""
        return [dict(problem) for problem in self._problems]
