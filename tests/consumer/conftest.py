"""Fixtures of the consumer tests (the DynamoDB server lives in tests/consumer/dynamodb.py)."""

from tests.consumer.dynamodb import dynamodb_server

__all__ = ["dynamodb_server"]
