"""The `fraudshield` command's own rules: the demo's calendar and the help a newcomer reads."""

import datetime as dt

import pytest

from fraudshield_pipeline import cli


def test_demo_calendar_ends_yesterday_but_never_before_the_partitions_start():
    today = dt.date(2026, 11, 30)
    start = cli.demo_start(72, dt.date(2026, 9, 1), today)
    assert start + dt.timedelta(days=71) == today - dt.timedelta(days=1)
    assert cli.demo_start(200, dt.date(2026, 9, 1), today) == dt.date(2026, 9, 1)


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
