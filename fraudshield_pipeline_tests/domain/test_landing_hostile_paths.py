"""Hostile mappings and landing roots: nothing outside the root is listed or read.

Paths that leave the root (``..``, absolute, ``~``, a scheme or drive, ``{date:<not strftime>}``,
``{date.attr}``, ``..`` after a wildcard, control characters) are refused when the mapping is
loaded, before any read; links out of a local root are refused on read, never quoted; linked
folders are not listed through; S3 prefixes with ``..`` are refused.
"""

import pytest

from fraudshield_pipeline.domain.landing import DictFileReader, LandingError, MappingError, load_mapping, read_day
from fraudshield_pipeline_tests.domain.test_landing_hostile import DAY, HEADER, LB, MAPPING, TX, lb_bytes, zone
from fraudshield_pipeline_tests.landing_example import mapping_with


class NoReads(DictFileReader):
    """A zone whose every read or listing fails the test: refusals come before any access."""

    def read_bytes(self, name: str) -> bytes:
        raise AssertionError(f"read {name}")

    def list_files(self, prefix: str) -> list[str]:
        raise AssertionError(f"listed {prefix}")


HOSTILE_VALUES = [  # (case, mapping key, value)
    ("path_parent", "transactions__path", "../secret/{date}.csv"),
    ("path_absolute", "transactions__path", "/etc/{date}.csv"),
    ("path_date_literal", "transactions__path", "../../../../etc/{date:passwd}"),
    ("path_date_literal_inside", "transactions__path", "transactions/{date:creds}.csv"),
    ("path_date_attribute", "transactions__path", "transactions/{date.__class__}.csv"),
    ("path_date_index", "transactions__path", "transactions/{date[0]}.csv"),
    ("path_date_conversion", "transactions__path", "transactions/{date!r}.csv"),
    ("path_positional", "transactions__path", "transactions/{}.csv"),
    ("path_strftime_escape", "transactions__path", "{date:%Y/../../..}/x.csv"),
    ("path_home", "transactions__path", "~/{date}.csv"),
    ("path_dot_dot_after_glob", "transactions__path", "transactions/**/../../{date}.csv"),
    ("path_backslash", "transactions__path", "..\\..\\{date}.csv"),
    ("path_scheme", "transactions__path", "file:///etc/{date}.csv"),
    ("path_drive", "transactions__path", "C:/x/{date}.csv"),
    ("path_glob_then_parent", "transactions__path", "transactions/*/../{date}.csv"),
    ("path_nul", "transactions__path", "transactions/{date}\x00.csv"),
    ("label_path_parent", "labels__path", "labels/../../{date}.csv"),
    ("max_amount_infinite", "transactions__max_amount", float("inf")),
    ("max_amount_absurd", "transactions__max_amount", 1e300),
    ("max_amount_zero", "transactions__max_amount", 0),
    ("delimiter_quote", "transactions__csv__delimiter", '"'),
    ("delimiter_newline", "transactions__csv__delimiter", "\n"),
    ("delimiter_letter", "transactions__csv__delimiter", "a"),
]


@pytest.mark.parametrize(("key", "value"), [c[1:] for c in HOSTILE_VALUES], ids=[c[0] for c in HOSTILE_VALUES])
def test_hostile_mapping_values_are_refused_before_any_read(key, value):
    with pytest.raises(MappingError) as caught:
        read_day(NoReads({}), load_mapping(mapping_with(**{key: value})), DAY)
    assert key.replace("__", ".") in str(caught.value), str(caught.value)


def test_a_symlink_out_of_the_root_is_refused_without_echoing_its_content(tmp_path):
    from fraudshield_pipeline.domain.landing import LocalDirReader

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / f"{DAY}.csv").write_text(f"{HEADER}\nTOP-SECRET;x;y;z;1;chip;NL;b\n")
    root = tmp_path / "landing"
    (root / "transactions").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / LB).write_bytes(lb_bytes())
    (root / TX).symlink_to(secret / f"{DAY}.csv")
    (root / "mapping.yaml").write_text(MAPPING)
    with pytest.raises(LandingError) as caught:
        read_day(LocalDirReader(root), load_mapping(MAPPING), DAY)
    assert caught.value.rule == "outside_root" and "TOP-SECRET" not in str(caught.value)
    (root / TX).unlink()
    (root / "transactions").rmdir()
    (root / "transactions").symlink_to(secret, target_is_directory=True)  # a linked folder
    with pytest.raises(LandingError) as caught:
        read_day(LocalDirReader(root), load_mapping(MAPPING), DAY)
    assert caught.value.rule == "outside_root" and "TOP-SECRET" not in str(caught.value)


@pytest.mark.parametrize("prefix", ["landing/..", "../other", "a/../../b", "a/./../.."])
def test_s3_prefixes_that_leave_the_bucket_prefix_are_refused(prefix):
    from fraudshield_pipeline.domain.landing import open_landing

    with pytest.raises(LandingError, match="outside_root"):
        open_landing(f"s3://bucket/{prefix}", region="us-east-1")


def test_linked_folders_are_not_listed_through(tmp_path):
    """A link to / or a link loop in the root would list the whole disk (and name its files in errors)."""
    from fraudshield_pipeline.domain.landing import LocalDirReader

    root = tmp_path / "landing"
    for name, data in zone()().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "transactions" / "loop").symlink_to(root, target_is_directory=True)
    (root / "labels" / "everything").symlink_to("/", target_is_directory=True)
    reader = LocalDirReader(root)
    assert reader.list_files("") == [LB, TX]
    landed = read_day(reader, load_mapping(mapping_with(labels__path="labels/**/{date}*.csv")), DAY)
    assert landed.files == [TX, LB]
