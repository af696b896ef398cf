"""A local Auth0 Authentication API whose attack protection reacts like a real tenant's.

``EmulatorServer`` serves it over HTTP; ``EmulatorState`` is the model it serves (see docs/emulator.md).
"""

from local.emulator.clock import ManualClock, SystemClock
from local.emulator.models import EmulatorState
from local.emulator.server import EmulatorServer
from local.emulator.tenant import TenantConfig, load_tenant_file

__all__ = [
    "EmulatorServer",
    "EmulatorState",
    "ManualClock",
    "SystemClock",
    "TenantConfig",
    "load_tenant_file",
]
