"""The user's landing zone as a transaction source; imported only when FRAUDSHIELD_SOURCE=landing."""

import datetime as dt

from dagster_aws.s3 import S3Resource
from pydantic import Field

from fraudshield_pipeline.resources.sources import RawDay, TransactionSource


class LandingZoneSource(TransactionSource):
    """The user's own files: a local folder or an S3 prefix with a `mapping.yaml` (see data/examples/landing)."""

    uri: str = Field(description="Landing root: a directory, or s3://bucket/prefix.")
    mapping_file: str = Field(default="mapping.yaml", description="Mapping file, relative to the root.")
    late_file_days: int = Field(
        default=120, ge=0, le=730, description="Days back the late_files_sensor watches for files added or changed after their "
        "day was ingested (chargebacks arrive for weeks; card schemes allow up to 540 days). 0 turns it off.",
    )  # fmt: skip
    s3: S3Resource | None = None

    def _reader(self):
        """The root through pyarrow.fs: S3 with the s3 resource's endpoint, region and credentials."""
        from fraudshield_pipeline.domain.landing import open_landing

        if self.uri.startswith("s3://"):
            if self.s3 is None:
                raise ValueError(f"{self.uri}: an S3 landing zone needs the s3 resource")
            return open_landing(
                self.uri,
                endpoint_url=self.s3.endpoint_url,
                region=self.s3.region_name,
                access_key=self.s3.aws_access_key_id,
                secret_key=self.s3.aws_secret_access_key,
                session_token=self.s3.aws_session_token,
            )
        return open_landing(self.uri)

    def load_day(self, day: dt.date) -> RawDay:
        from fraudshield_pipeline.domain.landing import read_day

        reader = self._reader()
        landed = read_day(reader, self._mapping(reader), day)
        source = f"{self.uri.rstrip('/')}/{{{','.join(landed.files)}}}"
        return RawDay(landed.transactions, landed.labels, source, landed.file_hashes, landed.unknown_columns)

    def late_days(
        self, ingested: dict[dt.date, tuple[dt.datetime, dict[str, str] | None]], seen: dict[str, list[str]]
    ) -> tuple[dict[dt.date, str], dict[str, list[str]], dict[dt.date, str]]:
        """Days of the last `late_file_days` whose files differ from those their last ingestion read."""
        from fraudshield_pipeline.domain.landing.arrivals import Ingestion, arrivals, day_files

        if not ingested or not self.late_file_days:
            return {}, {}, {}
        newest = max(ingested)
        watched = {d: Ingestion(at, hashes) for d, (at, hashes) in ingested.items() if (newest - d).days < self.late_file_days}
        reader = self._reader()
        mapping = self._mapping(reader)
        found = arrivals(reader, day_files(reader, mapping, watched), watched, seen, mapping.max_decompressed_bytes)
        return found.changed, found.seen, found.states

    def max_amount(self) -> float:
        """`transactions.max_amount` of the zone's mapping.yaml (the feed's currency)."""
        return self._mapping().transactions.max_amount

    def amount_sign(self) -> str | None:
        """`transactions.amount_sign` of the zone's mapping.yaml: the direction the quarantine check's advice takes."""
        return self._mapping().transactions.amount_sign

    def _mapping(self, reader=None):
        """The zone's mapping.yaml, read through `reader` (the zone's own by default)."""
        from fraudshield_pipeline.domain.landing import read_mapping

        return read_mapping(reader or self._reader(), self.mapping_file)
