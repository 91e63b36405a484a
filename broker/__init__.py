"""The broker tier: hardened Mosquitto (config, credentials, ACL, TLS) and the at-least-once
MQTT <-> Kafka bridge (:mod:`broker.bridge`)."""
