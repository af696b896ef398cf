"""The servers the stack runs as children: moto's, here (the emulator's own CLI is tested with it)."""

from __future__ import annotations

import boto3

from ropguard_offline import children
from ropguard_offline.aws_resources import FAKE_CREDENTIALS


def test_moto_settles_when_asked_serves_on_and_stops_when_its_input_closes() -> None:
    moto = children.moto("127.0.0.1", 0).launch().wait_ready()
    try:
        moto.settle()
        sqs = boto3.client(
            "sqs",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        url = sqs.create_queue(QueueName="after-settle")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="kept")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["kept"]
    finally:
        moto.stop()
    assert moto.exit_code == 0
