"""The `store` fixture: every ArtifactStore test in this folder runs on a local directory and on S3."""

from pathlib import Path

import pytest

from fraudshield_pipeline.resources.storage import ArtifactStore, LocalArtifactStore
from fraudshield_pipeline_tests.resources.stores import make_s3_store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(base_dir=str(tmp_path / "store"))
    request.getfixturevalue("aws_test_env")
    moto_s3 = request.getfixturevalue("moto_s3")
    return make_s3_store(moto_s3, moto_s3.create_bucket())
