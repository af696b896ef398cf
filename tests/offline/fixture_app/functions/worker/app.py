"""Fixture SQS handler: records each job in the table (attempts, and each delivery's receive
count and source queue); ``fail`` jobs are reported as failures, a ``raise`` job makes the whole
invocation fail."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = boto3.client("dynamodb")
    failures = []
    for record in event["Records"]:
        job = json.loads(record["body"])
        if job.get("raise"):
            raise RuntimeError("the fixture worker failed on purpose")
        table.update_item(
            TableName=os.environ["TABLE_NAME"],
            Key={"id": {"S": job["id"]}},
            UpdateExpression="ADD attempts :one SET receives = list_append(if_not_exists(receives, :no), :r)",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":no": {"L": []},
                ":r": {
                    "L": [
                        {"S": f"{record['eventSourceARN']} {record['attributes']['ApproximateReceiveCount']}"}
                    ]
                },
            },
        )
        if job.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
