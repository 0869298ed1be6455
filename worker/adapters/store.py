"""Immutable, content-addressed blobs at ``<store>/blobs/sha256/<hex>``, never overwritten.

Three stores share one small interface: a local directory (``file://``), S3 or an
S3-compatible server (``s3://bucket/prefix``) and an in-memory twin for unit tests
(``memory://``). A put of bytes already stored is a cheap no-op, so a retried upload is
harmless; a get verifies the hash, so a corrupt object fails loudly instead of running.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from worker.domain.errors import PermanentError, TransientError

BLOB_DIR = "blobs/sha256"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class BlobNotFound(PermanentError):
    """The blob is not in the store."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` under its sha256 unless present; return the hex digest."""
        ...

    def get(self, sha256: str) -> bytes:
        """Read a blob back, verifying its hash."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove a blob; removing one that is absent is not an error. Only a purge calls
        this, after no committed revision references the blob (worker/app/revisions.py)."""
        ...

    def describe(self) -> str:
        """Where the blobs live, for logs (never secrets)."""
        ...


def blob_key(sha256: str) -> str:
    """The store-relative key of a blob; rejects anything but a lowercase hex digest."""
    if not _HEX_DIGEST.fullmatch(sha256):
        raise PermanentError(f"not a sha256 hex digest: {sha256!r}")
    return f"{BLOB_DIR}/{sha256}"


def verified(data: bytes, sha256: str, where: str) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise PermanentError(f"blob {where} is corrupt: its content hashes to {actual}")
    return data


class MemoryStore:
    """A dict-backed twin for unit tests; ``objects`` maps keys to bytes."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        self.objects.setdefault(blob_key(sha256), bytes(data))
        return sha256

    def get(self, sha256: str) -> bytes:
        key = blob_key(sha256)
        try:
            data = self.objects[key]
        except KeyError:
            raise BlobNotFound(f"no blob memory://{key}") from None
        return verified(data, sha256, f"memory://{key}")

    def exists(self, sha256: str) -> bool:
        return blob_key(sha256) in self.objects

    def delete(self, sha256: str) -> None:
        self.objects.pop(blob_key(sha256), None)

    def describe(self) -> str:
        return "memory://"


class LocalStore:
    """Blobs as files under ``root``, each written once: temp file, fsync, hard link."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):  # a concurrent put won the race
                    os.link(tmp, target)  # unlike os.replace, never overwrites
            finally:
                os.unlink(tmp)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise TransientError(f"cannot write blob {target}: {exc}") from exc
        return sha256

    def get(self, sha256: str) -> bytes:
        target = self.path(sha256)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {target}") from None
        except OSError as exc:
            raise TransientError(f"cannot read blob {target}: {exc}") from exc
        return verified(data, sha256, str(target))

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        target = self.path(sha256)
        try:
            target.unlink(missing_ok=True)
            _fsync_dir(target.parent)
        except FileNotFoundError:  # the directory itself is gone: nothing to delete
            return
        except OSError as exc:
            raise TransientError(f"cannot delete blob {target}: {exc}") from exc

    def describe(self) -> str:
        return f"file://{self.root}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(url: str, *, s3_endpoint_url: str | None = None) -> BlobStore:
    """Open ``file://./rel``, ``file:///abs``, ``s3://bucket/prefix`` or ``memory://``.

    S3 credentials and region come from the standard AWS environment and config files;
    ``s3_endpoint_url`` points at an S3-compatible server (moto, MinIO) with path-style URLs.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"blob store URL has no scheme: {url!r}")
    if scheme == "memory":
        return MemoryStore()
    if scheme == "file":
        if not rest:
            raise ValueError(f"blob store URL has no path: {url!r}")
        return LocalStore(Path(rest).resolve())
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"blob store URL has no bucket: {url!r}")
        from worker.adapters.s3 import open_s3  # boto3 is imported only for an S3 store

        return open_s3(bucket, prefix, s3_endpoint_url=s3_endpoint_url)
    raise ValueError(f"unknown blob store URL scheme {scheme!r} in {url!r}")
