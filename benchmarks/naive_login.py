"""The reference a first attempt usually looks like: auth0-python plus a Secrets Manager read per call.

It does forward the IP (from the request context) but reads the secret on every invocation and
opens a new TCP connection to Auth0 each time (``requests.request`` without a session).
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

secrets = boto3.client("secretsmanager")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    secret = json.loads(secrets.get_secret_value(SecretId=os.environ["AUTH0_SECRET_ID"])["SecretString"])
    body = json.loads(event["body"])
    domain = os.environ["AUTH0_DOMAIN"].removeprefix("http://")
    token = GetToken(domain, secret["client_id"], client_secret=secret["client_secret"], protocol="http")
    try:
        result = token.login(
            body["username"],
            body["password"],
            scope="openid",
            grant_type="password",
            forwarded_for=event["requestContext"]["http"]["sourceIp"],
        )
    except Auth0Error as error:
        return {"statusCode": error.status_code, "body": json.dumps({"error": error.error_code})}
    return {"statusCode": 200, "body": json.dumps(result), "headers": {"Cache-Control": "no-store"}}
