"""Alert rules as pure functions over readings in seq order.

Rules see each device's readings in seq order (the dedup tracker releases them so), which
makes every episode a function of the stream's content, not its arrival order: a permuted,
duplicated stream opens and closes exactly the same episodes with the same ids.

* threshold: open when the value stays beyond the limit for ``min_duration_s`` of event time;
  close only once it is back past ``clear`` (hysteresis).
* rate: open when ``|dv/dt|`` between consecutive readings of the sensor exceeds the limit,
  close when it is back within it.
* deadman (:class:`DeviceLiveness`): open when a device sends nothing for ``silent_s``; when
  it comes back with a buffer backlog, the episode closes as "recovered after partition, N
  readings buffered" rather than reading as an outage.

An episode's id is ``rule:device:sensor:ts_ns`` of the reading that started it; the open
and the close share it.

>>> from cloud.settings import AlertRules, ThresholdRule
>>> from fieldlink.messages import Reading
>>> rules = AlertRules(rules=(ThresholdRule(name="hot", sensor="t", above=30, clear=28),))
>>> engine, state = AlertEngine(rules), {}
>>> r = lambda seq, v: Reading(device="pi", sensor="t", value=v, ts_ns=seq, seq=seq)
>>> [a.state.value for a in engine.evaluate(state, "lab", [r(0, 31), r(1, 29), r(2, 27)])]
['open', 'close']
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud.settings import AlertRules, DeadmanRule, RateRule, Severity, ThresholdRule
from fieldlink.messages import Alert, AlertState, DeviceStatus, Reading

__all__ = ["AlertEngine", "DeviceLiveness", "alert_id"]

_NS = 1_000_000_000


def alert_id(rule: str, device: str, sensor: str | None, ts_ns: int) -> str:
    return f"{rule}:{device}:{sensor or '-'}:{ts_ns}"


class AlertEngine:
    """Evaluates threshold and rate rules; state is a JSON-able dict owned by the caller."""

    def __init__(self, rules: AlertRules):
        self.rules = rules
        self._by_sensor: dict[str, list[ThresholdRule | RateRule]] = {}
        every: tuple[ThresholdRule | RateRule, ...] = (*rules.thresholds, *rules.rates)
        for rule in every:
            self._by_sensor.setdefault(rule.sensor, []).append(rule)

    def evaluate(
        self, state: dict[str, Any], site: str, readings: Iterable[Reading]
    ) -> list[Alert]:
        """Feed readings of one device in seq order; mutate ``state``; return transitions."""
        out: list[Alert] = []
        for reading in readings:
            if reading.value is None:
                continue
            for rule in self._by_sensor.get(reading.sensor, ()):
                key = f"{rule.name}|{reading.sensor}"
                entry = state.setdefault(key, {"open": None, "since": None, "prev": None})
                if isinstance(rule, ThresholdRule):
                    alert = _threshold(rule, entry, site, reading)
                else:
                    alert = _rate(rule, entry, site, reading)
                if alert is not None:
                    out.append(alert)
        return out


def _make(
    rule: ThresholdRule | RateRule | DeadmanRule,
    state: AlertState,
    episode: str,
    device: str,
    site: str,
    sensor: str | None,
    ts_ns: int,
    value: float | None,
    message: str,
    severity: Severity | None = None,
) -> Alert:
    return Alert(
        alert_id=episode,
        rule=rule.name,
        state=state,
        device=device,
        site=site,
        sensor=sensor,
        severity=severity or rule.severity,
        ts_ns=ts_ns,
        value=value,
        message=message,
    )


def _threshold(rule: ThresholdRule, entry: dict[str, Any], site: str, r: Reading) -> Alert | None:
    assert r.value is not None
    if rule.above is not None:
        beyond, back = r.value > rule.above, r.value < rule.clear
        limit = f"> {rule.above}"
    else:
        assert rule.below is not None
        beyond, back = r.value < rule.below, r.value > rule.clear
        limit = f"< {rule.below}"
    if entry["open"] is not None:
        if back:
            episode, entry["open"], entry["since"] = entry["open"], None, None
            return _make(
                rule,
                AlertState.CLOSE,
                episode,
                r.device,
                site,
                r.sensor,
                r.ts_ns,
                r.value,
                f"{r.sensor} back past {rule.clear}",
            )
        return None
    if not beyond:
        entry["since"] = None
        return None
    if entry["since"] is None:
        entry["since"] = r.ts_ns
    if r.ts_ns - entry["since"] < rule.min_duration_s * _NS:
        return None
    episode = alert_id(rule.name, r.device, r.sensor, entry["since"])
    entry["open"] = episode
    return _make(
        rule,
        AlertState.OPEN,
        episode,
        r.device,
        site,
        r.sensor,
        r.ts_ns,
        r.value,
        f"{r.sensor} {limit} for {rule.min_duration_s:g} s",
    )


def _rate(rule: RateRule, entry: dict[str, Any], site: str, r: Reading) -> Alert | None:
    assert r.value is not None
    previous, entry["prev"] = entry["prev"], [r.ts_ns, r.value]
    if previous is None or r.ts_ns <= previous[0]:
        return None
    rate = abs(r.value - previous[1]) / ((r.ts_ns - previous[0]) / _NS)
    if entry["open"] is None and rate > rule.max_per_s:
        episode: str = alert_id(rule.name, r.device, r.sensor, r.ts_ns)
        entry["open"] = episode
        return _make(
            rule,
            AlertState.OPEN,
            episode,
            r.device,
            site,
            r.sensor,
            r.ts_ns,
            r.value,
            f"{r.sensor} changing {rate:.4g}/s > {rule.max_per_s:g}/s",
        )
    if entry["open"] is not None and rate <= rule.max_per_s:
        episode, entry["open"] = entry["open"], None
        return _make(
            rule,
            AlertState.CLOSE,
            episode,
            r.device,
            site,
            r.sensor,
            r.ts_ns,
            r.value,
            f"{r.sensor} rate back within {rule.max_per_s:g}/s",
        )
    return None


@dataclass(slots=True)
class _Device:
    site: str
    last_seen_ns: int
    backlog: int = 0
    silent_episode: str | None = None


@dataclass
class DeviceLiveness:
    """Deadman rule: which devices went silent, and how they came back.

    ``seen`` is called with the time a message from the device entered Kafka; ``check`` with
    the current time. Times are nanoseconds.

    >>> from cloud.settings import DeadmanRule
    >>> live = DeviceLiveness(DeadmanRule(name="silent", silent_s=10))
    >>> live.seen("pi", "lab", 0)
    []
    >>> [a.state.value for a in live.check(11 * 10**9)]
    ['open']
    >>> live.status("pi", "lab", backlog=250)
    >>> [a.message for a in live.seen("pi", "lab", 12 * 10**9)]
    ['recovered after partition, 250 readings buffered']
    """

    rule: DeadmanRule
    devices: dict[str, _Device] = field(default_factory=dict)

    def status(self, device: str, site: str, *, backlog: int) -> None:
        """Note the backlog a device reports (DeviceStatus.buffer_depth)."""
        entry = self.devices.get(device)
        if entry is None:
            self.devices[device] = _Device(site, -1, backlog)
        else:
            entry.backlog = backlog

    def report(self, status: DeviceStatus, at_ns: int) -> list[Alert]:
        """A DeviceStatus arrived at ``at_ns``: note its backlog and, if the device itself
        sent it, count it as a sign of life. An ``online=False`` status is the last will the
        broker publishes for a device it lost: it proves the device is gone, not alive."""
        self.status(status.device, status.site, backlog=status.buffer_depth)
        if not status.online:
            return []
        return self.seen(status.device, status.site, at_ns)

    def seen(self, device: str, site: str, at_ns: int) -> list[Alert]:
        entry = self.devices.get(device)
        if entry is None:
            self.devices[device] = _Device(site, at_ns)
            return []
        out: list[Alert] = []
        if entry.silent_episode is not None:
            if entry.backlog > 0:
                message = f"recovered after partition, {entry.backlog} readings buffered"
                severity: Severity | None = "info"
            else:
                message, severity = "device back", None
            out.append(
                _make(
                    self.rule,
                    AlertState.CLOSE,
                    entry.silent_episode,
                    device,
                    site,
                    None,
                    at_ns,
                    None,
                    message,
                    severity,
                )
            )
            entry.silent_episode = None
        entry.last_seen_ns = max(entry.last_seen_ns, at_ns)
        return out

    def check(self, now_ns: int, devices: Collection[str] | None = None) -> list[Alert]:
        """Open an episode for every device (of ``devices``, if given) silent at ``now_ns``."""
        out = []
        for device, entry in sorted(self.devices.items()):
            if entry.silent_episode is not None or entry.last_seen_ns < 0:
                continue
            if devices is not None and device not in devices:
                continue
            if now_ns - entry.last_seen_ns >= self.rule.silent_s * _NS:
                entry.silent_episode = alert_id(self.rule.name, device, None, entry.last_seen_ns)
                out.append(
                    _make(
                        self.rule,
                        AlertState.OPEN,
                        entry.silent_episode,
                        device,
                        entry.site,
                        None,
                        now_ns,
                        None,
                        f"no data for {self.rule.silent_s:g} s",
                    )
                )
        return out

    def online(self, device: str, now_ns: int) -> bool:
        entry = self.devices.get(device)
        if entry is None or entry.last_seen_ns < 0:
            return False
        return now_ns - entry.last_seen_ns < self.rule.silent_s * _NS

    def snapshot(self) -> Sequence[tuple[str, _Device]]:
        return sorted(self.devices.items())
