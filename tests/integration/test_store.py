"""The blob store contract, run against a local directory, moto's S3 over HTTP and memory."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from worker.adapters.s3 import S3Store
from worker.adapters.store import BlobNotFound, BlobStore, LocalStore, MemoryStore, open_store
from worker.domain.errors import PermanentError, TransientError

DATA = b"def block_login(page):\n    page.click('#submit')\n"
DATA_SHA = hashlib.sha256(DATA).hexdigest()


@dataclass
class Backend:
    """A store plus raw access to what it wrote, bypassing the store."""

    store: BlobStore
    location: Callable[[str], str]  # hex -> the raw key or file path
    read_raw: Callable[[str], bytes]
    write_raw: Callable[[str, bytes], object]
    stamp: Callable[[str], object]  # changes whenever the object is (re)written


def local_backend(root: Path) -> Backend:
    store = open_store(f"file://{root}")
    assert isinstance(store, LocalStore)

    def path(sha: str) -> Path:
        return root / "blobs" / "sha256" / sha

    def stamp(sha: str) -> object:
        st = path(sha).stat()
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    return Backend(
        store=store,
        location=lambda sha: str(path(sha)),
        read_raw=lambda sha: path(sha).read_bytes(),
        write_raw=lambda sha, data: path(sha).write_bytes(data),
        stamp=stamp,
    )


def s3_backend(store: S3Store) -> Backend:
    client, bucket = store.client, store.bucket
    puts: list[dict[str, Any]] = []
    client.meta.events.register("before-call.s3.PutObject", lambda params, **_: puts.append(params))

    def key(sha: str) -> str:
        return f"scripts/blobs/sha256/{sha}"

    def write_raw(sha: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=key(sha), Body=data)

    def stamp(sha: str) -> object:
        head = client.head_object(Bucket=bucket, Key=key(sha))
        return (len(puts), head["ETag"], head["LastModified"])

    return Backend(
        store=store,
        location=key,
        read_raw=lambda sha: client.get_object(Bucket=bucket, Key=key(sha))["Body"].read(),
        write_raw=write_raw,
        stamp=stamp,
    )


def memory_backend() -> Backend:
    store = MemoryStore()

    def write_raw(sha: str, data: bytes) -> None:
        store.objects[f"blobs/sha256/{sha}"] = data

    return Backend(
        store=store,
        location=lambda sha: f"blobs/sha256/{sha}",
        read_raw=lambda sha: store.objects[f"blobs/sha256/{sha}"],
        write_raw=write_raw,
        stamp=lambda sha: id(store.objects[f"blobs/sha256/{sha}"]),
    )


@pytest.fixture(params=["local", "s3", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return local_backend(tmp_path / "store")
    if request.param == "s3":
        return s3_backend(request.getfixturevalue("s3_store"))
    return memory_backend()


def raw_locations(backend: Backend) -> set[str]:
    store = backend.store
    if isinstance(store, LocalStore):
        return {str(p) for p in store.root.rglob("*") if p.is_file()}
    if isinstance(store, S3Store):
        listing = store.client.list_objects_v2(Bucket=store.bucket)
        return {obj["Key"] for obj in listing.get("Contents", [])}
    assert isinstance(store, MemoryStore)
    return set(store.objects)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the contract, for every store ------------------------------------------------------------


def test_put_returns_the_sha256_and_stores_under_blobs_sha256(backend: Backend) -> None:
    assert backend.store.put(DATA) == DATA_SHA
    assert raw_locations(backend) == {backend.location(DATA_SHA)}
    assert backend.location(DATA_SHA).endswith(f"blobs/sha256/{DATA_SHA}")
    assert backend.read_raw(DATA_SHA) == DATA


def test_put_of_stored_bytes_is_a_no_op(backend: Backend) -> None:
    backend.store.put(DATA)
    before = backend.stamp(DATA_SHA)
    assert backend.store.put(DATA) == DATA_SHA
    assert backend.stamp(DATA_SHA) == before


def test_an_existing_object_is_never_overwritten_and_its_corruption_is_reported(
    backend: Backend,
) -> None:
    backend.store.put(DATA)
    backend.write_raw(DATA_SHA, b"tampered")
    before = backend.stamp(DATA_SHA)

    backend.store.put(DATA)

    assert backend.stamp(DATA_SHA) == before
    assert backend.read_raw(DATA_SHA) == b"tampered"
    with pytest.raises(PermanentError, match=backend.location(DATA_SHA)) as info:
        backend.store.get(DATA_SHA)
    assert not isinstance(info.value, BlobNotFound)


def test_get_of_a_missing_blob_raises_blob_not_found(backend: Backend) -> None:
    assert not backend.store.exists(DATA_SHA)
    with pytest.raises(BlobNotFound, match=DATA_SHA):
        backend.store.get(DATA_SHA)


def test_exists_turns_true_after_put(backend: Backend) -> None:
    assert not backend.store.exists(DATA_SHA)
    backend.store.put(DATA)
    assert backend.store.exists(DATA_SHA)


@pytest.mark.parametrize("size", [0, 5 * 1024 * 1024], ids=["empty", "5MB"])
def test_blobs_round_trip(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    sha = backend.store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert backend.store.get(sha) == data


def test_delete_removes_only_that_blob_and_deleting_it_again_is_no_error(
    backend: Backend,
) -> None:
    other = backend.store.put(b"another blob")
    backend.store.put(DATA)

    backend.store.delete(DATA_SHA)
    backend.store.delete(DATA_SHA)

    assert not backend.store.exists(DATA_SHA)
    with pytest.raises(BlobNotFound):
        backend.store.get(DATA_SHA)
    assert raw_locations(backend) == {backend.location(other)}
    assert backend.store.put(DATA) == DATA_SHA and backend.store.get(DATA_SHA) == DATA


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", DATA_SHA.upper(), DATA_SHA + "0"])
def test_a_malformed_digest_is_rejected(backend: Backend, bad: str) -> None:
    with pytest.raises(PermanentError, match="not a sha256 hex digest"):
        backend.store.get(bad)


# --- S3 specifics -----------------------------------------------------------------------------


def test_s3_put_sends_no_second_put_object(s3_store: S3Store) -> None:
    puts: list[str] = []
    s3_store.client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: puts.append(params["url_path"])
    )
    s3_store.put(DATA)
    s3_store.put(DATA)
    assert len(puts) == 1


def test_s3_put_without_prefix_uses_the_bare_key(s3_bucket: str, s3_endpoint: str) -> None:
    store = open_store(f"s3://{s3_bucket}", s3_endpoint_url=s3_endpoint)
    assert isinstance(store, S3Store)
    store.put(DATA)
    listing = store.client.list_objects_v2(Bucket=s3_bucket)
    assert [obj["Key"] for obj in listing["Contents"]] == [f"blobs/sha256/{DATA_SHA}"]


def test_s3_put_that_loses_a_race_keeps_the_existing_object(s3_store: S3Store) -> None:
    # Another writer stores the key between our HEAD ("absent") and our PUT: If-None-Match.
    key = f"scripts/blobs/sha256/{DATA_SHA}"
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"other writer")
    s3_store.client.meta.events.register(
        "before-send.s3.HeadObject",
        lambda request, **_: AWSResponse(request.url, 404, {}, _Raw(b"")),
    )
    assert s3_store.put(DATA) == DATA_SHA
    body = s3_store.client.get_object(Bucket=s3_store.bucket, Key=key)["Body"].read()
    assert body == b"other writer"


def test_s3_on_a_closed_port_raises_transient_error_quickly(aws_env: None) -> None:
    store = open_store("s3://sc-unreachable", s3_endpoint_url=f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    with pytest.raises(TransientError, match="sc-unreachable"):
        store.put(DATA)
    assert time.monotonic() - started < 10


def test_s3_missing_bucket_is_a_permanent_error(s3_endpoint: str, aws_env: None) -> None:
    store = open_store("s3://sc-no-such-bucket/scripts", s3_endpoint_url=s3_endpoint)
    with pytest.raises(PermanentError, match="NoSuchBucket"):
        store.put(DATA)
    with pytest.raises(PermanentError, match="NoSuchBucket") as info:
        store.get(DATA_SHA)
    assert not isinstance(info.value, BlobNotFound)


def inject_put_response(store: S3Store, status: int, code: str) -> list[str]:
    """Answer every PutObject with an S3 error document; return the list of attempts."""
    attempts: list[str] = []

    def respond(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        return AWSResponse(request.url, status, {}, _Raw(body))

    store.client.meta.events.register("before-send.s3.PutObject", respond)
    return attempts


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (503, "SlowDown", TransientError),
        (500, "InternalError", TransientError),
        (429, "TooManyRequests", TransientError),
        (403, "AccessDenied", PermanentError),
        (400, "InvalidRequest", PermanentError),
    ],
)
def test_s3_error_responses_map_to_transient_or_permanent(
    s3_store: S3Store, status: int, code: str, expected: type[Exception]
) -> None:
    # A client without retries keeps the table fast; the bounded retry is tested below.
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_store.client.meta.endpoint_url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    store = S3Store(client, s3_store.bucket, s3_store.prefix)
    inject_put_response(store, status, code)
    with pytest.raises(expected, match=f"HTTP {status} {code}") as info:
        store.put(DATA)
    assert isinstance(info.value, TransientError) == (expected is TransientError)


def test_s3_retries_a_server_error_a_bounded_number_of_times(s3_store: S3Store) -> None:
    attempts = inject_put_response(s3_store, 500, "InternalError")
    with pytest.raises(TransientError):
        s3_store.put(DATA)
    assert len(attempts) == 4  # botocore's retries["max_attempts"] counts retries, not attempts


class _Raw:
    """The smallest raw HTTP body botocore's AWSResponse can read."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self) -> list[bytes]:
        return [self.body]


# --- open_store -------------------------------------------------------------------------------


def test_open_store_resolves_a_relative_file_url_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("file://./var/blobs")
    assert store.describe() == f"file://{tmp_path.resolve()}/var/blobs"
    store.put(DATA)
    assert (tmp_path / "var" / "blobs" / "blobs" / "sha256" / DATA_SHA).read_bytes() == DATA


def test_open_store_accepts_an_absolute_file_url(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/blobs")
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path.resolve() / "blobs"


def test_open_store_describes_s3_without_secrets(aws_env: None) -> None:
    store = open_store("s3://bucket/some/prefix/")
    assert store.describe() == "s3://bucket/some/prefix"
    assert "testing" not in store.describe()


def test_open_store_memory_url_gives_a_memory_store() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)


@pytest.mark.parametrize("url", ["ftp://host/blobs", "gs://bucket/prefix"])
def test_open_store_rejects_an_unknown_scheme(url: str) -> None:
    scheme = url.split("://")[0]
    with pytest.raises(ValueError, match=f"unknown blob store URL scheme '{scheme}'"):
        open_store(url)


@pytest.mark.parametrize("url", ["/var/blobs", "file://", "s3://", "s3:///prefix"])
def test_open_store_rejects_an_incomplete_url(url: str) -> None:
    with pytest.raises(ValueError, match="blob store URL"):
        open_store(url)
