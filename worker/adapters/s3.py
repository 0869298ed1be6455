"""Blobs as S3 objects (worker/adapters/store.py opens it for ``s3://`` urls; boto3 is imported
here only, so that a process on another store never loads it)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from worker.adapters.store import BlobNotFound, blob_key, verified
from worker.domain.errors import PermanentError, TransientError

# retries["max_attempts"] counts retries after the first attempt: at most 4 requests in all.
_S3_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)
_TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestLimitExceeded",
        "TooManyRequests",
        "InternalError",
        "ServiceUnavailable",
        "ConditionalRequestConflict",  # a concurrent conditional write of the same key
    }
)


class S3Store:
    """Blobs as objects under ``s3://bucket/prefix``; written with HEAD + If-None-Match."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def key(self, sha256: str) -> str:
        return f"{self.prefix}/{blob_key(sha256)}" if self.prefix else blob_key(sha256)

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256
        key = self.key(sha256)
        with _s3_errors(f"put s3://{self.bucket}/{key}"):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
            except ClientError as exc:
                if _status(exc) != 412:
                    raise
                # 412: the object appeared since our HEAD; the existing one stays as it is.
        return sha256

    def get(self, sha256: str) -> bytes:
        key = self.key(sha256)
        where = f"s3://{self.bucket}/{key}"
        with _s3_errors(f"get {where}"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                    raise BlobNotFound(f"no blob {where}") from None
                raise
            data: bytes = response["Body"].read()
        return verified(data, sha256, where)

    def exists(self, sha256: str) -> bool:
        key = self.key(sha256)
        with _s3_errors(f"head s3://{self.bucket}/{key}"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _status(exc) == 404:
                    return False
                raise
        return True

    def delete(self, sha256: str) -> None:
        key = self.key(sha256)
        with _s3_errors(f"delete s3://{self.bucket}/{key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)  # absent: 204 as well

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (tests and development only)."""
        with _s3_errors(f"create s3://{self.bucket}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if _status(exc) != 404:
                    raise
            region = self.client.meta.region_name
            if region in (None, "us-east-1"):
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": region}
                )


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


@contextlib.contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """Turn botocore's exceptions into TransientError or PermanentError, cause attached."""
    try:
        yield
    except ClientError as exc:
        status, code = _status(exc), exc.response.get("Error", {}).get("Code", "")
        message = f"cannot {action}: HTTP {status} {code}"
        if status >= 500 or status in (408, 429) or code in _TRANSIENT_S3_CODES:
            raise TransientError(message) from exc
        raise PermanentError(message) from exc
    except (BotoConnectionError, HTTPClientError, IncompleteReadError) as exc:
        raise TransientError(f"cannot {action}: {exc}") from exc
    except BotoCoreError as exc:  # missing credentials, invalid parameters
        raise PermanentError(f"cannot {action}: {exc}") from exc


def open_s3(bucket: str, prefix: str, *, s3_endpoint_url: str | None = None) -> S3Store:
    """S3 credentials and region come from the standard AWS environment and config files;
    ``s3_endpoint_url`` points at an S3-compatible server (moto, MinIO) with path-style URLs."""
    config = _S3_CONFIG
    if s3_endpoint_url:
        config = config.merge(Config(s3={"addressing_style": "path"}))
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint_url, config=config)
    return S3Store(client, bucket, prefix)
