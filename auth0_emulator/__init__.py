"""A local Auth0 Authentication API whose attack protection reacts like a real tenant's.

``EmulatorServer`` serves it over HTTP; ``EmulatorState`` is the model it serves (see docs/emulator.md).
"""

from auth0_emulator.clock import ManualClock, SystemClock
from auth0_emulator.models import EmulatorState
from auth0_emulator.server import EmulatorServer
from auth0_emulator.tenant import TenantConfig, load_tenant_file

__all__ = [
    "EmulatorServer",
    "EmulatorState",
    "ManualClock",
    "SystemClock",
    "TenantConfig",
    "load_tenant_file",
]
