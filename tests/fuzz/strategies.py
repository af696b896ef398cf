"""Hypothesis strategies for hostile POST /login events, each knowing what it generated.

Every case carries its own oracle (is the source IP usable? which password went in?) computed
here, independently of the code under test, so the properties never ask the product what the
right answer is.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

from ropguard_offline.template import load_yaml
from tests.fixtures.emulator import DEMO_USERS
from tests.fixtures.login import ROOT
from tests.fuzz.support import PASSWORD_CANARY

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
SCOPES = tuple(load_yaml(ROOT / "template.yaml")["Parameters"]["Auth0Scopes"]["Default"].split())


@dataclass(frozen=True)
class Body:
    text: Any  # what goes in the event's "body" (usually str or None)
    base64_flag: Any  # the event's isBase64Encoded (usually a bool)
    content_type: str | None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SourceIp:
    value: Any  # _MISSING: no sourceIp key at all
    usable: bool


@dataclass(frozen=True)
class EventCase:
    event: dict[str, Any]
    ip_usable: bool
    password: str | None = field(repr=False)
    content_type: str | None


_MISSING = object()


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (integers would lean towards their bounds)."""
    return st.sampled_from([False] * (n - 1) + [True])


# -- passwords and fields --------------------------------------------------------------------

#: Characters that trip decoders and validators: lone surrogates (JSON carries them as \\udXXX
#: escapes), NUL, separators, BOM, astral and combining characters.
tricky_chars = st.sampled_from(
    ["\ud800", "\udfff", "\udc80", "\x00", "\u2028", "\ufeff", "\U0001f600", "\u0301", "%", "&", "="]
)
#: Any code point, lone surrogates included.
any_char = st.one_of(st.characters(codec=None, categories=None), tricky_chars)
any_text = st.text(any_char, max_size=24)
utf8_text = st.text(st.characters(codec="utf-8"), max_size=24)

passwords = st.builds(lambda head, tail: f"{head}{PASSWORD_CANARY}{tail}", any_text, any_text)
huge_passwords = st.integers(1_000, 200_000).map(lambda n: "p" * n + PASSWORD_CANARY)
usernames = st.one_of(
    st.sampled_from([email for email, _ in DEMO_USERS.values()]),
    st.emails().map(str),
    any_text,
    st.integers(200, 5_000).map(lambda n: "u" * n),
)
demo_logins = st.sampled_from(sorted(DEMO_USERS.values()))
scopes = st.one_of(
    st.lists(st.sampled_from(SCOPES), max_size=4).map(" ".join),
    st.lists(st.sampled_from((*SCOPES, "admin", "offline_access", "*", "")), max_size=4).map(" ".join),
    any_text,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(json_values, any_text)


@st.composite
def login_fields(draw: st.DrawFn) -> tuple[list[tuple[str, Any]], str | None]:
    """Username/password/scope pairs, sometimes missing, repeated, mistyped or padded."""
    if draw(st.booleans()):
        username, password = draw(demo_logins)
        password = password if draw(st.booleans()) else draw(passwords)
    else:
        username = draw(usernames)
        password = draw(huge_passwords) if draw(one_in(8)) else draw(passwords)
    pairs: list[tuple[str, Any]] = []
    if not draw(one_in(10)):
        pairs.append(("username", draw(field_values) if draw(one_in(6)) else username))
    if not draw(one_in(10)):
        pairs.append(("password", password))
    if draw(st.booleans()):
        pairs.append(("scope", draw(field_values) if draw(one_in(6)) else draw(scopes)))
    if draw(one_in(3)):
        extra: list[tuple[str, Any]] = draw(
            st.lists(st.tuples(any_text, field_values), min_size=1, max_size=3)
        )
        pairs += extra
    repeat: bool = draw(one_in(10))
    if pairs and repeat:
        pairs.append(draw(st.sampled_from(pairs)))  # a field given twice
    shuffled: list[tuple[str, Any]] = draw(st.permutations(pairs))
    return shuffled, password if ("password", password) in pairs else None


# -- bodies ------------------------------------------------------------------------------------


def _json_object(pairs: list[tuple[str, Any]], ensure_ascii: bool) -> str:
    """JSON text of ``pairs`` in order, repeats kept (json.dumps of a dict would drop them)."""
    members = (
        f"{json.dumps(key, ensure_ascii=ensure_ascii)}:{json.dumps(value, ensure_ascii=ensure_ascii)}"
        for key, value in pairs
    )
    return "{" + ",".join(members) + "}"


def _form(pairs: list[tuple[str, Any]], plus: bool) -> str:
    encode = quote_plus if plus else quote
    return "&".join(
        f"{encode(str(key), errors='surrogatepass')}={encode(str(value), errors='surrogatepass')}"
        for key, value in pairs
    )


def _maybe_base64(draw: st.DrawFn, text: str) -> tuple[str, bool]:
    if draw(st.booleans()):
        return base64.b64encode(text.encode("utf-8", errors="surrogatepass")).decode("ascii"), True
    return text, False


@st.composite
def login_bodies(draw: st.DrawFn) -> Body:
    """Login-shaped JSON or form bodies, plain or base64, with a fitting or odd content type."""
    pairs, password = draw(login_fields())
    as_json = draw(st.booleans())
    text = _json_object(pairs, draw(st.booleans())) if as_json else _form(pairs, draw(st.booleans()))
    body, flag = _maybe_base64(draw, text)
    fitting = JSON_TYPE if as_json else FORM_TYPE
    content_type = draw(content_types) if draw(one_in(4)) else fitting
    return Body(body, flag, content_type, password)


raw_bytes = st.binary(max_size=600)


@st.composite
def raw_bodies(draw: st.DrawFn) -> Body:
    """Anything at all: random bytes (plain or base64), random JSON values, random form text,
    invalid UTF-8, invalid base64, huge strings."""
    kind = draw(
        st.sampled_from(["bytes-b64", "bytes-text", "json", "form", "text-b64", "huge", "huge-b64", "empty"])
    )
    content_type = draw(content_types)
    if kind == "bytes-b64":
        return Body(base64.b64encode(draw(raw_bytes)).decode("ascii"), True, content_type)
    if kind == "bytes-text":
        return Body(draw(raw_bytes).decode("utf-8", errors="surrogateescape"), False, content_type)
    if kind == "json":
        text, flag = _maybe_base64(draw, json.dumps(draw(json_values), ensure_ascii=draw(st.booleans())))
        return Body(text, flag, content_type)
    if kind == "form":
        form = draw(st.text(st.sampled_from("ab=&%+;FfE0D9x\x00\u00e9"), max_size=60))
        text, flag = _maybe_base64(draw, form)
        return Body(text, flag, content_type)
    if kind == "text-b64":  # mostly not base64 at all
        return Body(
            draw(any_text | st.sampled_from(["abc", "YWJj\n", "====", "YW Jj", "Y", "%%%"])),
            True,
            content_type,
        )
    if kind in ("huge", "huge-b64"):
        size = draw(st.integers(3_000, 300_000))
        text = '{"username":"a","password":"' + "x" * size + '"}'
        return (
            Body(*_maybe_base64(draw, text), content_type)
            if kind == "huge-b64"
            else Body(text, False, content_type)
        )
    return Body(draw(st.sampled_from([None, "", _MISSING])), draw(base64_flags), content_type)


content_types = st.one_of(
    st.sampled_from(
        [
            JSON_TYPE,
            FORM_TYPE,
            "Application/JSON",
            "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
            'application/json;charset="utf-8"',
            "application/json; charset=latin-1",
            "application/json; charset=",
            "application/json;;",
            "application/json, text/plain",
            "application/jsonx",
            "text/plain",
            "text/json",
            "multipart/form-data; boundary=x",
            "application/*",
            "",
            " ",
            ";",
        ]
    ),
    st.text(max_size=30),
    st.none(),
)
base64_flags = st.one_of(st.booleans(), st.sampled_from([None, "true", "false", 1, 0, _MISSING]))

# -- source addresses and request contexts -----------------------------------------------------


def _is_address_like(text: str) -> bool:
    """Would some reading of ``text`` give an address? Such text is neither clearly good nor bad."""
    candidate = text.strip()
    for parse in (ipaddress.ip_address, ipaddress.ip_network):
        try:
            parse(candidate)
        except ValueError:
            continue
        return True
    return False


def _can_be_a_client(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Unspecified and multicast addresses never open a TCP connection (also as IPv4-mapped IPv6)."""
    mapped = getattr(address, "ipv4_mapped", None) or address
    return not (mapped.is_unspecified or mapped.is_multicast)


usable_ips = (
    st.ip_addresses().filter(_can_be_a_client).map(lambda address: SourceIp(str(address), usable=True))
)
unusable_ips = st.one_of(
    st.sampled_from(
        [
            _MISSING,
            None,
            "",
            "0.0.0.0",  # noqa: S104 - an address a client cannot have
            "::",
            "224.0.0.1",
            "ff02::1",
            "fe80::1%eth0",
            "10.0.0.0/8",
            "203.0.113.7, 198.51.100.9",
            "203.0.113.256",
            "localhost",
            7,
            ["203.0.113.7"],
            {"ip": "203.0.113.7"},
        ]
    ),
    any_text.filter(lambda text: not _is_address_like(text)),
).map(lambda value: SourceIp(value, usable=False))
source_ips = one_in(4).flatmap(lambda unusable: unusable_ips if unusable else usable_ips)

extra_headers = st.dictionaries(
    st.sampled_from(
        ["x-forwarded-for", "forwarded", "x-real-ip", "auth0-forwarded-for", "user-agent", "accept", "x-odd"]
    ),
    st.text(st.characters(codec="utf-8"), max_size=40),
    max_size=3,
)
header_names = st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"])


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _MISSING:
        target[key] = value


@st.composite
def events(
    draw: st.DrawFn, bodies: st.SearchStrategy[Body], ips: st.SearchStrategy[SourceIp] = source_ips
) -> EventCase:
    """A payload 2.0 (HTTP API) or 1.0 (REST API) event around ``bodies``, with an odd request
    context now and then."""
    body, ip = draw(bodies), draw(ips)
    headers: dict[str, Any] = dict(draw(extra_headers))
    if body.content_type is not None:
        headers[draw(header_names)] = body.content_type
    v2 = draw(st.booleans())
    if v2:
        http: dict[str, Any] = {"method": "POST", "path": "/login", "protocol": "HTTP/1.1"}
        _put(http, "sourceIp", ip.value)
        context: Any = {"requestId": draw(st.uuids()).hex, "http": http, "stage": "$default"}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "POST /login",
            "rawPath": "/login",
            "headers": headers,
        }
    else:
        rest_null_headers = draw(st.booleans())
        identity: dict[str, Any] = {"userAgent": "fuzz"}
        _put(identity, "sourceIp", ip.value)
        context = {"requestId": draw(st.uuids()).hex, "identity": identity, "stage": "prod"}
        event = {
            "resource": "/login",
            "path": "/login",
            "httpMethod": "POST",
            "headers": headers if headers or rest_null_headers else None,  # REST sends null
            "multiValueHeaders": {key: [value] for key, value in headers.items()},
        }
        _put(event, "version", draw(st.sampled_from([_MISSING, "1.0"])))
    usable = ip.usable
    if usable and draw(one_in(20)):  # the whole context is broken: no address at all
        context = draw(
            st.sampled_from([_MISSING, None, [], "requestContext", {}, {"http": None, "identity": None}])
        )
        usable = False
    _put(event, "requestContext", context)
    _put(event, "body", body.text)
    _put(event, "isBase64Encoded", body.base64_flag)
    return EventCase(event, usable, body.password, body.content_type)
