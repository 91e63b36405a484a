"""Example drivers for sensors that are not gpiozero devices; see :mod:`.sysfs`."""
