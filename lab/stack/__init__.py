"""The whole stack on one machine with a simulated fleet (``fieldlink lab up``)."""

from .spec import SensorEvent, StackSpec
from .stack import Stack

__all__ = ["SensorEvent", "Stack", "StackSpec"]
