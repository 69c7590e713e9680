"""The `fraudshield` command's own rules: the demo's calendar and the help a newcomer reads."""

import datetime as dt

import pytest

from fraudshield_pipeline import cli


def test_demo_calendar_ends_yesterday_but_never_before_the_partitions_start():
    today = dt.date(2026, 11, 30)
    start = cli.demo_start(72, dt.date(2026, 9, 1), today)
    assert start + dt.timedelta(days=71) == today - dt.timedelta(days=1)
    assert cli.demo_start(200, dt.date(2026, 9, 1), today) == dt.date(2026, 9, 1)


def test_the_demo_pins_the_first_partition_to_its_first_day_unless_set(tmp_path, monkeypatch):
    """A partition between the partitions' start and the demo's first day would exist unmaterialized,
    and the features' history window refuses that; `fraudshield ui` reads the pin back."""
    import argparse

    monkeypatch.delenv("FRAUDSHIELD_START_DATE", raising=False)
    monkeypatch.setenv("FRAUDSHIELD_DATA_DIR", str(tmp_path))
    args = argparse.Namespace(start=None, days=40)
    first = cli._pin_partitions_start(args)
    assert first == dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=40)
    assert cli.os.environ["FRAUDSHIELD_START_DATE"] == first.isoformat()
    assert (tmp_path / cli.START_DATE_FILE).read_text().strip() == first.isoformat()

    monkeypatch.setenv("FRAUDSHIELD_START_DATE", "2026-09-01")  # an operator's calendar wins
    assert cli._pin_partitions_start(argparse.Namespace(start="2026-09-01", days=40)) == dt.date(2026, 9, 1)
    assert cli.os.environ["FRAUDSHIELD_START_DATE"] == "2026-09-01"


@pytest.mark.parametrize(
    "command, helps",
    [
        ("ui", ["address the UIs listen on", "Dagster UI port (default 3000)", "MLflow UI port", "do not start the MLflow UI"]),
        ("promotions", ["newest decisions shown (default 20)"]),
    ],
)
def test_every_option_has_help_text(command, helps, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for help_text in helps:
        assert help_text in text, text
