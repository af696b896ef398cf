"""The session-wide event scan must see a secret in a delivered event, or its silence means nothing."""

from __future__ import annotations

import json

import pytest

from ropguard_offline.stack import OfflineStack
from tests.fixtures.offline_stack import EVENT_LEAKS
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration


def test_a_secret_in_a_delivered_event_is_caught(
    offline_stack: OfflineStack, secret_registry: SecretRegistry
) -> None:
    secret_registry.add("password", "pw-smuggled-into-an-event-42")
    topic_arn = offline_stack.physical("SecurityEventsTopic")
    offline_stack.aws.client("sns").publish(
        TopicArn=topic_arn,
        Message=json.dumps({"type": "password.breached", "password": "pw-smuggled-into-an-event-42"}),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "password.breached"}},
    )
    assert offline_stack.drain(timeout=30)
    assert EVENT_LEAKS == [("BreachedPasswords", ["password"])]
    EVENT_LEAKS.clear()  # seen on purpose: do not fail this test for it
