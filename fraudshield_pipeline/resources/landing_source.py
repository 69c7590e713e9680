"""The user's landing zone as a transaction source; imported only when FRAUDSHIELD_SOURCE=landing."""

import datetime as dt

from dagster_aws.s3 import S3Resource
from pydantic import Field

from fraudshield_pipeline.resources.sources import RawDay, TransactionSource


class LandingZoneSource(TransactionSource):
    """The user's own files: a local folder or an S3 prefix with a `mapping.yaml` (see data/examples/landing)."""

    uri: str = Field(description="Landing root: a directory, or s3://bucket/prefix.")
    mapping_file: str = Field(default="mapping.yaml", description="Mapping file, relative to the root.")
    s3: S3Resource | None = None

    def _reader(self):
        from fraudshield_pipeline.domain.landing import LocalDirReader, S3PrefixReader

        if self.uri.startswith("s3://"):
            if self.s3 is None:
                raise ValueError(f"{self.uri}: an S3 landing zone needs the s3 resource")
            bucket, _, prefix = self.uri.removeprefix("s3://").partition("/")
            return S3PrefixReader(self.s3.get_client(), bucket, prefix)
        return LocalDirReader(self.uri)

    def load_day(self, day: dt.date) -> RawDay:
        from fraudshield_pipeline.domain.landing import read_day, read_mapping

        reader = self._reader()
        landed = read_day(reader, read_mapping(reader, self.mapping_file), day)
        source = f"{self.uri.rstrip('/')}/{{{','.join(landed.files)}}}"
        return RawDay(landed.transactions, landed.labels, source, landed.file_hashes, landed.unknown_columns)
