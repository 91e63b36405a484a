from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge.outputs import Outputs
from edge.settings import OutputConfig

pytestmark = pytest.mark.unit


def test_an_output_is_on_while_any_of_its_alerts_is_open() -> None:
    outputs = Outputs(
        [
            OutputConfig(name="led", pin=5, alert_rules=["overheat", "flood"]),
            OutputConfig(name="buzzer", kind="buzzer", pin=6, alert_rules=["*"]),
        ],
        pin_factory=MockFactory(),
    )
    outputs.alert("overheat", "a1", opened=True)
    outputs.alert("flood", "a2", opened=True)
    outputs.alert("overheat", "a1", opened=False)
    assert outputs.is_on("led")
    assert outputs.is_on("buzzer")
    outputs.alert("flood", "a2", opened=False)
    assert not outputs.is_on("led")
    assert not outputs.is_on("buzzer")
    outputs.alert("silence", "a3", opened=True)
    assert not outputs.is_on("led")
    assert outputs.is_on("buzzer")
    assert outputs.drive("led", "on")
    assert outputs.is_on("led")
    assert not outputs.drive("nope", "on")
    outputs.close()
