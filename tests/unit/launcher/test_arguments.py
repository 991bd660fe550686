"""`python -m model_gateway_launcher up`: its arguments, and the refusal of bad ones."""

from __future__ import annotations

import pytest

from model_gateway_launcher.__main__ import DEFAULT_TOPOLOGY, TOPOLOGIES, parser


def test_up_defaults_to_one_worker_of_the_default_topology() -> None:
    args = parser().parse_args(["up"])
    assert (args.workers, args.topology) == (1, DEFAULT_TOPOLOGY)
    assert DEFAULT_TOPOLOGY in TOPOLOGIES


def test_config_may_come_before_or_after_up() -> None:
    assert parser().parse_args(["--config", "a.yaml", "up"]).config == "a.yaml"
    assert parser().parse_args(["up", "--config", "b.yaml"]).config == "b.yaml"


@pytest.mark.parametrize(
    "argv", [["up", "--workers", "0"], ["up", "--workers", "x"], ["up", "--topology", "x"]]
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "model-gateway up" in capsys.readouterr().err
