"""``ropguard-doctor smoke --api URL --stack NAME`` against the offline stack: the canary login Auth0
attributes to this host, every ``live`` alias on its function's latest version, and no security
event SNS failed to deliver; each failure is named."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ropguard_doctor.cli import main
from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, demo_client
from ropguard_offline.template import STACK_NAME
from tests.fixtures.secret_hygiene import SECRETS

pytestmark = pytest.mark.integration

M2M_ID = "ropguard-doctor"
M2M_SECRET = "ropguard-doctor-secret-not-for-production"  # the demo tenant's documented M2M client


def smoke(stack: OfflineStack) -> tuple[int, dict[str, Any]]:
    env = {
        "AUTH0_DOMAIN": stack.auth0_url,
        "AUTH0_MANAGEMENT_CLIENT_ID": M2M_ID,
        "AUTH0_MANAGEMENT_CLIENT_SECRET": M2M_SECRET,
        "AUTH0_CLIENT_ID": demo_client(DEFAULT_TENANT).client_id,
        "AWS_ENDPOINT_URL": stack.aws_url,
    }
    out = io.StringIO()
    status = main(["smoke", "--api", stack.api_url, "--stack", STACK_NAME, "--json"], env=env, out=out)
    assert not SECRETS.found_in(out.getvalue())
    return status, json.loads(out.getvalue())


def failed(document: dict[str, Any]) -> list[str]:
    return [check["check"] for check in document["stack"] if not check["passed"]]


def test_a_fresh_stack_passes_every_check(offline_stack: OfflineStack) -> None:
    status, document = smoke(offline_stack)
    assert status == 0, document
    assert document["passed"] is True
    names = {check["check"] for check in document["stack"]}
    assert {"LoginFunction alias live", "SessionFunction alias live"} <= names
    assert (document["event"]["ip"], document["event"]["client_ip"]) == ("127.0.0.42", "127.0.0.1")


def test_a_failed_delivery_in_the_dead_letter_queue_fails_the_smoke(offline_stack: OfflineStack) -> None:
    sqs = offline_stack.aws.client("sqs")
    sqs.send_message(
        QueueUrl=offline_stack.physical("SecurityEventsDeliveryDeadLetterQueue"), MessageBody="{}"
    )
    status, document = smoke(offline_stack)
    assert status == 1
    assert failed(document) == ["security-event delivery dead-letter queue"]


def test_an_alias_left_on_an_old_version_fails_the_smoke(offline_stack: OfflineStack) -> None:
    client = offline_stack.aws.client("lambda")
    function = offline_stack.physical("LoginFunction")
    serving = client.get_alias(FunctionName=function, Name="live")["FunctionVersion"]
    client.update_function_configuration(FunctionName=function, Description="a deploy the alias missed")
    newer = client.publish_version(FunctionName=function)["Version"]
    assert newer != serving
    try:
        status, document = smoke(offline_stack)
        assert status == 1
        assert failed(document) == ["LoginFunction alias live"]
    finally:
        client.update_alias(FunctionName=function, Name="live", FunctionVersion=newer)


def test_in_cloudfront_mode_the_smoke_logs_in_through_the_distribution(
    cloudfront_stack_session: OfflineStack,
) -> None:
    cloudfront_stack_session.reset()
    status, document = smoke(cloudfront_stack_session)
    assert status == 0, document
    assert (document["event"]["ip"], document["event"]["client_ip"]) == ("127.0.0.42", "127.0.0.1")
