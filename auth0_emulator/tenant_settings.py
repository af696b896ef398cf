"""The tenant's settings as they are now: the tenant file, where it is served, and what the
Management API or a test hook changed since the last reset.

Every concern reads its settings here at the moment it decides, so a change made over HTTP (or by a
test) applies to the next request without any concern holding a stale copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth0_emulator.mfa import MfaDialect
from auth0_emulator.settings import BreachedPasswordSettings, BruteForceSettings, SuspiciousIpSettings
from auth0_emulator.tenant import TenantConfig


@dataclass
class TenantSettings:
    config: TenantConfig
    base_url: str
    mfa_error_format: str
    mfa_error_status: str
    change_password_unknown_user: str
    revoke_refresh_token_grant: bool
    brute_force: BruteForceSettings
    suspicious_ip: SuspiciousIpSettings
    breached_password: BreachedPasswordSettings

    @classmethod
    def from_config(cls, config: TenantConfig, base_url: str) -> TenantSettings:
        return cls(
            config=config,
            base_url=base_url,
            mfa_error_format=config.mfa_error_format,
            mfa_error_status=config.mfa_error_status,
            change_password_unknown_user=config.change_password_unknown_user,
            revoke_refresh_token_grant=config.revoke_refresh_token_grant,
            brute_force=config.brute_force,
            suspicious_ip=config.suspicious_ip,
            breached_password=config.breached_password,
        )

    @property
    def issuer(self) -> str:
        return self.config.issuer or f"{self.base_url}/"

    @property
    def mfa_dialect(self) -> MfaDialect:
        return MfaDialect(codes=self.mfa_error_format, statuses=self.mfa_error_status)
