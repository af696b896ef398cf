"""The doctor's exceptions: one branch under ``ropguard.errors.RopguardError``.

::

    DoctorError                 ropguard-doctor could not check the tenant (exit status 2)
    ├── TenantFileError         auth0/tenant.yaml unreadable, invalid, or a ${VAR} unset
    └── ManagementApiError      the Management API refused or failed a call

They live here, not in the Lambda layer, because only the doctor (the CLI and the scheduled tenant
check) raises them. Messages never hold a token or secret.
"""

from __future__ import annotations

from ropguard.errors import RopguardError


class DoctorError(RopguardError):
    """ropguard-doctor could not do what it was asked (not a finding: the tenant was not judged)."""


class TenantFileError(DoctorError, ValueError):
    """The desired-state file is unreadable or invalid, or a ``${VAR}`` in it is not set."""


class ManagementApiError(DoctorError):
    """A Management API (or its token) call failed; ``status`` is the HTTP status, 0 without one.

    The message carries Auth0's own ``message``/``error_description`` (which name a missing scope,
    for instance) and never a token or secret.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
