"""What every API function's service holds, so the login and session services share one constructor.

The edge (``ropguard.edge``) reads ``client_address`` and ``cookies`` before a route runs; the
services call Auth0 through ``shedding`` with the container's ``credentials`` and ``clock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NotRequired, TypedDict

from ropguard.client_address import ClientAddressResolver
from ropguard.cookie_delivery import CookieDelivery
from ropguard.rotation import CredentialsSource
from ropguard.settings import ApiSettings
from ropguard.shedding import Shedding


class ServiceParts(TypedDict):
    """The keyword arguments every API service takes (``**parts: Unpack[ServiceParts]``)."""

    credentials: CredentialsSource
    clock: NotRequired[Callable[[], float]]
    client_address: NotRequired[ClientAddressResolver | None]
    cookies: NotRequired[CookieDelivery | None]
    shedding: NotRequired[Shedding | None]


class ApiService:
    def __init__(
        self,
        settings: ApiSettings,
        *,
        credentials: CredentialsSource,
        clock: Callable[[], float] = time.time,
        client_address: ClientAddressResolver | None = None,
        cookies: CookieDelivery | None = None,
        shedding: Shedding | None = None,
    ) -> None:
        self.settings = settings
        #: Read by the edge before anything else (``ropguard.edge.answer_event``).
        self.client_address = client_address or ClientAddressResolver.for_api(settings)
        #: Cookie mode's session cookie and CSRF rule, applied by the edge (None in body mode).
        self.cookies = cookies or CookieDelivery.for_api(settings)
        #: This container's memory of Auth0's blocks and rate limit (``ropguard.shedding``).
        self.shedding = shedding or Shedding.for_api(settings, clock)
        self._credentials = credentials
        self._clock = clock
