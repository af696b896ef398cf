"""The three attack-protection settings, in the Management API's own JSON shapes.

The tenant file and ``PATCH /api/v2/attack-protection/*`` share these parsers, so a setting means
the same thing wherever it is written. Defaults are Auth0's documented defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auth0_emulator.addresses import Allowlist
from auth0_emulator.validation import (
    ValidationError,
    as_mapping,
    read_bool,
    read_choice,
    read_int,
    read_str_list,
    reject_unknown,
)

PER_IDENTIFIER_AND_IP = "count_per_identifier_and_ip"
PER_IDENTIFIER = "count_per_identifier"
NO_ALLOWLIST = Allowlist(entries=(), networks=())
MAX_ALLOWLIST = 100  # Auth0 accepts at most 100 addresses or ranges per allowlist
BREACH_STAGES = {"pre-user-registration", "pre-change-password"}
MAX_BOT_LIST = 100


def _allowlist(data: Mapping[str, Any], path: str, current: Allowlist) -> Allowlist:
    entries = read_str_list(data, "allowlist", path, current.entries)
    if len(entries) > MAX_ALLOWLIST:
        raise ValidationError(f"{path}.allowlist: at most {MAX_ALLOWLIST} entries")
    try:
        return Allowlist.parse(entries)
    except ValueError as exc:
        raise ValidationError(f"{path}.allowlist: {exc}") from exc


@dataclass(frozen=True)
class BruteForceSettings:
    enabled: bool = True
    shields: tuple[str, ...] = ("block", "user_notification")
    mode: str = PER_IDENTIFIER_AND_IP
    max_attempts: int = 10
    allowlist: Allowlist = NO_ALLOWLIST

    def patched(self, body: object, path: str = "brute_force_protection") -> BruteForceSettings:
        data = as_mapping(body, path)
        reject_unknown(data, {"enabled", "shields", "mode", "max_attempts", "allowlist"}, path)
        return BruteForceSettings(
            enabled=read_bool(data, "enabled", path, self.enabled),
            shields=read_str_list(data, "shields", path, self.shields, {"block", "user_notification"}),
            mode=read_choice(data, "mode", path, self.mode, {PER_IDENTIFIER_AND_IP, PER_IDENTIFIER}),
            max_attempts=read_int(data, "max_attempts", path, self.max_attempts, (1, 100)),
            allowlist=_allowlist(data, path, self.allowlist),
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "shields": list(self.shields),
            "mode": self.mode,
            "max_attempts": self.max_attempts,
            "allowlist": list(self.allowlist.entries),
        }


@dataclass(frozen=True)
class StageLimit:
    """A token bucket: ``max_attempts`` capacity, one attempt granted back every ``rate`` ms."""

    max_attempts: int
    rate: int

    def patched(self, body: object, path: str) -> StageLimit:
        data = as_mapping(body, path)
        reject_unknown(data, {"max_attempts", "rate"}, path)
        return StageLimit(
            max_attempts=read_int(data, "max_attempts", path, self.max_attempts, (1, None)),
            rate=read_int(data, "rate", path, self.rate, (1, None)),
        )

    def to_api(self) -> dict[str, int]:
        return {"max_attempts": self.max_attempts, "rate": self.rate}


@dataclass(frozen=True)
class SuspiciousIpSettings:
    enabled: bool = True
    shields: tuple[str, ...] = ("block", "admin_notification")
    allowlist: Allowlist = NO_ALLOWLIST
    pre_login: StageLimit = StageLimit(max_attempts=100, rate=864_000)
    pre_user_registration: StageLimit = StageLimit(max_attempts=50, rate=1_200)

    def patched(self, body: object, path: str = "suspicious_ip_throttling") -> SuspiciousIpSettings:
        data = as_mapping(body, path)
        reject_unknown(data, {"enabled", "shields", "allowlist", "stage"}, path)
        stage = as_mapping(data.get("stage", {}), f"{path}.stage")
        reject_unknown(stage, {"pre-login", "pre-user-registration"}, f"{path}.stage")
        pre_login = self.pre_login
        if "pre-login" in stage:
            pre_login = pre_login.patched(stage["pre-login"], f"{path}.stage.pre-login")
        pre_registration = self.pre_user_registration
        if "pre-user-registration" in stage:
            pre_registration = pre_registration.patched(
                stage["pre-user-registration"], f"{path}.stage.pre-user-registration"
            )
        return SuspiciousIpSettings(
            enabled=read_bool(data, "enabled", path, self.enabled),
            shields=read_str_list(data, "shields", path, self.shields, {"block", "admin_notification"}),
            allowlist=_allowlist(data, path, self.allowlist),
            pre_login=pre_login,
            pre_user_registration=pre_registration,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "shields": list(self.shields),
            "allowlist": list(self.allowlist.entries),
            "stage": {
                "pre-login": self.pre_login.to_api(),
                "pre-user-registration": self.pre_user_registration.to_api(),
            },
        }


@dataclass(frozen=True)
class BreachedPasswordSettings:
    enabled: bool = True
    shields: tuple[str, ...] = ("block", "user_notification")
    admin_notification_frequency: tuple[str, ...] = ()
    method: str = "standard"
    stage: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("pre-user-registration", ()),
        ("pre-change-password", ()),
    )

    def patched(self, body: object, path: str = "breached_password_detection") -> BreachedPasswordSettings:
        data = as_mapping(body, path)
        reject_unknown(data, {"enabled", "shields", "admin_notification_frequency", "method", "stage"}, path)
        stages = dict(self.stage)
        stage_data = as_mapping(data.get("stage", {}), f"{path}.stage")
        reject_unknown(stage_data, BREACH_STAGES, f"{path}.stage")
        for name, value in stage_data.items():
            stage_path = f"{path}.stage.{name}"
            entry = as_mapping(value, stage_path)
            reject_unknown(entry, {"shields"}, stage_path)
            stages[name] = read_str_list(
                entry, "shields", stage_path, stages[name], {"block", "admin_notification"}
            )
        return BreachedPasswordSettings(
            stage=tuple(stages.items()),
            enabled=read_bool(data, "enabled", path, self.enabled),
            shields=read_str_list(
                data, "shields", path, self.shields, {"block", "user_notification", "admin_notification"}
            ),
            admin_notification_frequency=read_str_list(
                data,
                "admin_notification_frequency",
                path,
                self.admin_notification_frequency,
                {"immediately", "daily", "weekly", "monthly"},
            ),
            method=read_choice(data, "method", path, self.method, {"standard", "enhanced"}),
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "shields": list(self.shields),
            "admin_notification_frequency": list(self.admin_notification_frequency),
            "method": self.method,
            "stage": {name: {"shields": list(shields)} for name, shields in self.stage},
        }


@dataclass(frozen=True)
class BotDetectionSettings:
    """Which logins Bot Detection finds risky: the emulator's stand-in for Auth0's risk score.

    Auth0 decides from signals no test can set, so the tenant file names the identifiers and
    attributed addresses (IPs or CIDR ranges) whose password logins need a CAPTCHA.
    """

    users: tuple[str, ...] = ()
    addresses: Allowlist = NO_ALLOWLIST

    @classmethod
    def parse(cls, body: object, path: str) -> BotDetectionSettings:
        data = as_mapping(body, path)
        reject_unknown(data, {"users", "addresses"}, path)
        users = read_str_list(data, "users", path, ())
        entries = read_str_list(data, "addresses", path, ())
        if len(users) > MAX_BOT_LIST or len(entries) > MAX_BOT_LIST:
            raise ValidationError(f"{path}: at most {MAX_BOT_LIST} users and {MAX_BOT_LIST} addresses")
        try:
            addresses = Allowlist.parse(entries)
        except ValueError as exc:
            raise ValidationError(f"{path}.addresses: {exc}") from exc
        return cls(users=tuple(user.lower() for user in users), addresses=addresses)

    def is_risky(self, identifier: str, ip: str) -> bool:
        return identifier.lower() in self.users or self.addresses.contains(ip)
