"""Powertools' logging and metrics names for the handlers, imported the way the cold path needs.

Handlers import ``Logger``, ``Metrics``, ``MetricUnit`` and ``correlation_paths`` from here rather
than from ``aws_lambda_powertools`` so that the ``ropguard`` package is imported first and
Powertools comes in without botocore (see ``ropguard/__init__.py``). Tracing is ``ropguard.tracing``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["Logger", "MetricUnit", "Metrics", "correlation_paths"]
