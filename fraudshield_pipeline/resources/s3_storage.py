"""The S3 artifact store, through dagster-aws; imported only by the S3 profile (see profiles)."""

from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from fraudshield_pipeline.resources.storage import ArtifactStore


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

    def write_bytes(self, key: str, data: bytes) -> str:
        self._s3_client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        client = self._s3_client()
        try:
            return client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(f"{self.uri(key)} does not exist") from error

    def exists(self, key: str) -> bool:
        client = self._s3_client()
        response = client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return any(o["Key"] == self._key(key) for o in response.get("Contents", []))

    def list_keys(self, prefix: str) -> list[str]:
        paginator = self._s3_client().get_paginator("list_objects_v2")
        root = self._key("")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys.extend(o["Key"][len(root) :] for o in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._s3_client().delete_object(Bucket=self.bucket, Key=self._key(key))

