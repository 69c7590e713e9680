"""An S3ArtifactStore on the test S3 server (moto), for every test that needs the S3 backend."""

from dagster_aws.s3 import S3Resource

from fraudshield_pipeline.resources.s3_storage import S3ArtifactStore

S3_PREFIX = "fraudshield"


def make_s3_store(moto_s3, bucket: str, prefix: str = S3_PREFIX) -> S3ArtifactStore:
    s3 = S3Resource(
        endpoint_url=moto_s3.endpoint_url,
        region_name=moto_s3.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        max_attempts=2,
    )
    return S3ArtifactStore(s3=s3, bucket=bucket, prefix=prefix)
