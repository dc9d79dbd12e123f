"""Fixtures for the cluster tests: a tiny experiment, a real two-node Ray cluster
(scripts/cluster_up.sh) and a real S3-compatible server (moto), all on 127.0.0.1."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._helpers.cluster import BIN, EXPERIMENT, MODEL, clean_env, free_port
from tests._helpers.local_cluster import local_cluster


@pytest.fixture
def experiment_dir(tmp_path: Path) -> Path:
    """A folder with tiny.yaml and the model code it names (model.py)."""
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(EXPERIMENT)
    (folder / "model.py").write_text(MODEL)
    return folder


@dataclass(frozen=True)
class Cluster:
    address: str  # the dashboard / Jobs API, http://127.0.0.1:PORT
    gcs_address: str
    token_path: Path
    folder: Path

    def env(self, **extra: str) -> dict[str, str]:
        """What a user has after `eval "$(scripts/cluster_up.sh ...)"`."""
        return clean_env(
            RAY_ADDRESS=self.address, RAY_AUTH_TOKEN_PATH=str(self.token_path), **extra
        )


@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster of two nodes on this machine, 1 CPU each, token auth on.

    Its own ports and --temp-dir keep it apart from the session's local Ray; it is always
    stopped, and by the process ids cluster_up.sh recorded only.
    """
    started = time.monotonic()
    options = ("--workers", "1", "--head-cpus", "1", "--worker-cpus", "1")
    with local_cluster(*options, env=clean_env()) as (folder, exports):
        print(f"cluster up in {time.monotonic() - started:.0f} s: {exports}")
        yield Cluster(
            address=exports["RAY_ADDRESS"],
            gcs_address=exports["RAYTUNE_HPT_GCS_ADDRESS"],
            token_path=Path(exports["RAY_AUTH_TOKEN_PATH"]),
            folder=folder,
        )


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def env(self, **extra: str) -> dict[str, str]:
        """Credentials and endpoint the usual way (AWS_* variables), read by pyarrow and boto3."""
        return clean_env(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            **extra,
        )

    def keys(self, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-compatible server (moto's) on 127.0.0.1 with one empty bucket.

    Stopped by its own process id."""
    import boto3
    import requests

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not answer within 60 s"
                time.sleep(0.3)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket="hpt-results")
        yield S3Server(endpoint=endpoint, bucket="hpt-results")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
