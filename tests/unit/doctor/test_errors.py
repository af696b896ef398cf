"""ropguard_doctor.errors: the doctor's branch of the error tree lives outside the Lambda layer."""

from __future__ import annotations

import ropguard.errors
from ropguard.errors import RopguardError
from ropguard_doctor.errors import DoctorError, ManagementApiError, TenantFileError


def test_the_doctors_errors_are_ropguard_errors_but_not_in_the_layer() -> None:
    assert issubclass(TenantFileError, DoctorError)
    assert issubclass(TenantFileError, ValueError)
    assert issubclass(ManagementApiError, DoctorError)
    assert issubclass(DoctorError, RopguardError)
    assert not hasattr(ropguard.errors, "DoctorError")


def test_a_management_error_keeps_its_status() -> None:
    error = ManagementApiError(403, "Insufficient scope, expected any of: read:clients")
    assert (error.status, str(error)) == (403, "Insufficient scope, expected any of: read:clients")
