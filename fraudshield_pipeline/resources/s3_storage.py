"""The S3 artifact store, through dagster-aws; imported only by the S3 profile (see profiles).

Transient faults (throttling such as 503 SlowDown, 5xx errors, timeouts, dropped connections)
are retried by botocore itself: dagster-aws builds the client in botocore's `standard` retry
mode (exponential backoff with jitter) with `max_attempts` from FRAUDSHIELD_S3_MAX_ATTEMPTS.
What still fails after that, or fails for good (AccessDenied, NoSuchBucket), is raised as an
ArtifactStoreError naming the operation, the object and the number of attempts.
"""

from contextlib import contextmanager

from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from fraudshield_pipeline.resources.storage import ArtifactStore, ArtifactStoreError


class S3ArtifactStore(ArtifactStore):
    """Objects under an S3 bucket and prefix, through dagster-aws (credentials from the environment)."""

    s3: S3Resource
    bucket: str = Field(description="S3 bucket holding tables and reports.")
    prefix: str = Field(default="fraudshield", description="Key prefix inside the bucket.")
    # One client per store instance: S3Resource.get_client() builds a new boto3 session each call
    # (~0.1-0.3 s), which dominated runs that touch hundreds of partitions. boto3 clients are thread-safe.
    _client: object = PrivateAttr(default=None)

    def _s3_client(self):
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix.strip('/')}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextmanager
    def _failing_clearly(self, operation: str, key: str):
        """Turns botocore's errors into one that names the object; NoSuchKey stays FileNotFoundError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404") and operation == "GetObject":
                raise FileNotFoundError(f"{self.uri(key)} does not exist") from error
            message = error.response.get("Error", {}).get("Message", "")
            attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            raise ArtifactStoreError(
                f"S3 {operation} of {self.uri(key)} failed after {attempts} attempt(s): {code} {message}".rstrip()
            ) from error
        except BotoCoreError as error:
            raise ArtifactStoreError(f"S3 {operation} of {self.uri(key)} failed: {error}") from error

    def write_bytes(self, key: str, data: bytes) -> str:
        with self._failing_clearly("PutObject", key):
            self._s3_client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        with self._failing_clearly("GetObject", key):
            return self._s3_client().get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        with self._failing_clearly("ListObjectsV2", key):
            response = self._s3_client().list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return any(o["Key"] == self._key(key) for o in response.get("Contents", []))

    def list_keys(self, prefix: str) -> list[str]:
        paginator = self._s3_client().get_paginator("list_objects_v2")
        root = self._key("")
        keys: list[str] = []
        with self._failing_clearly("ListObjectsV2", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                keys.extend(o["Key"][len(root) :] for o in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        with self._failing_clearly("DeleteObject", key):
            self._s3_client().delete_object(Bucket=self.bucket, Key=self._key(key))
