"""The lab: the real servers on one machine, a simulated fleet, and partition scenarios.

``lab.install`` provisions Mosquitto, Kafka and InfluxDB into a cache outside the repository;
``lab.services`` starts and supervises them (the pytest fixtures and the CLI share it).
"""
