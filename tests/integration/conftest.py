"""Fixtures for adapters tested against real services."""

from __future__ import annotations

import uuid

import pytest

from worker.adapters.s3 import S3Store
from worker.adapters.store import open_store


@pytest.fixture
def s3_bucket(s3_endpoint: str, aws_env: None) -> str:
    """A fresh, empty bucket on the moto S3 server, unique to this test."""
    bucket = f"sc-test-{uuid.uuid4().hex[:16]}"
    store = open_store(f"s3://{bucket}", s3_endpoint_url=s3_endpoint)
    assert isinstance(store, S3Store)
    store.ensure_bucket()
    return bucket


@pytest.fixture
def s3_store(s3_bucket: str, s3_endpoint: str) -> S3Store:
    """An S3 blob store over HTTP on a fresh bucket, under the prefix ``scripts``."""
    store = open_store(f"s3://{s3_bucket}/scripts", s3_endpoint_url=s3_endpoint)
    assert isinstance(store, S3Store)
    return store
