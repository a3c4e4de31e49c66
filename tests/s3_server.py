"""A real S3 API on loopback (moto's server) for work dirs on object storage.

Credentials go where a user's would, in the environment, set before any process that needs them starts
(Ray's workers inherit the driver's environment)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow.fs as pafs

REGION = "us-east-1"
ENV = {"AWS_ACCESS_KEY_ID": "medcurate-test", "AWS_SECRET_ACCESS_KEY": "medcurate-test-secret",
       "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": REGION}


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request would bury a failure
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"{host}:{port}"

    def bucket(self) -> str:
        """A new, empty bucket; its name."""
        name = f"medcurate-{uuid.uuid4().hex[:12]}"
        fs = pafs.S3FileSystem(endpoint_override=self.endpoint, scheme="http", region=REGION,
                               allow_bucket_creation=True)
        fs.create_dir(name)
        return name

    def uri(self, bucket: str, prefix: str) -> str:
        return f"s3://{bucket}/{prefix}?endpoint_override={self.endpoint}&scheme=http&region={REGION}"

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
