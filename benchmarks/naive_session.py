"""The naive reference for the session routes: a Secrets Manager read per call, a new connection
per call; auth0-python's ``GetToken.refresh_token`` and ``RevokeToken`` where it has helpers, and
plain ``requests`` for MFA (auth0-python has no MFA helpers). It forwards the IP where it can."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import requests
from auth0.authentication import GetToken, RevokeToken
from auth0.authentication.exceptions import Auth0Error

secrets = boto3.client("secretsmanager")


def _secret() -> dict[str, str]:
    value: dict[str, str] = json.loads(
        secrets.get_secret_value(SecretId=os.environ["AUTH0_SECRET_ID"])["SecretString"]
    )
    return value


def _answer(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body), "headers": {"Cache-Control": "no-store"}}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    secret = _secret()
    base = os.environ["AUTH0_DOMAIN"]
    domain = base.removeprefix("http://")
    ip = event["requestContext"]["http"]["sourceIp"]
    route = event["routeKey"]
    body = json.loads(event["body"]) if event.get("body") else {}
    credentials = {"client_id": secret["client_id"], "client_secret": secret["client_secret"]}
    try:
        if route == "POST /token/refresh":
            token = GetToken(
                domain, secret["client_id"], client_secret=secret["client_secret"], protocol="http"
            )
            return _answer(200, token.refresh_token(body["refresh_token"]))
        if route == "POST /logout":
            revoke = RevokeToken(
                domain, secret["client_id"], client_secret=secret["client_secret"], protocol="http"
            )
            revoke.revoke_refresh_token(body["refresh_token"])
            return _answer(200, {})
    except Auth0Error as error:
        return _answer(error.status_code, {"error": error.error_code})
    headers = {"auth0-forwarded-for": ip}
    if route == "GET /login/mfa/authenticators":
        bearer = event["headers"]["authorization"]
        response = requests.get(
            f"{base}/mfa/authenticators", headers={**headers, "authorization": bearer}, timeout=5
        )
    elif route == "POST /login/mfa/challenge":
        response = requests.post(
            f"{base}/mfa/challenge", json={**body, **credentials}, headers=headers, timeout=5
        )
    else:
        grant = {"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp", **body, **credentials}
        response = requests.post(f"{base}/oauth/token", json=grant, headers=headers, timeout=5)
    return _answer(response.status_code, response.json())
