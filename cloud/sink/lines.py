"""Line protocol for what the cloud tier stores.

Idempotent by construction: a point's timestamp is the event time (a reading's ``ts_ns``, a
window's start, an alert transition's ``ts_ns``) and its tags are the series identity
(device, sensor, site; never the boot id or the worker), so writing it again replaces it.

>>> from fieldlink.messages import Reading
>>> reading_line(Reading(device="pi", sensor="t", value=1.5, unit="degC", ts_ns=7, seq=3), "lab")
'reading,device=pi,sensor=t,site=lab value=1.5,seq=3i,unit="degC" 7'
"""

from __future__ import annotations

from fieldlink.messages import Alert, DeviceStatus, Reading

from ..processing.windows import WindowAggregate

__all__ = ["aggregate_line", "alert_line", "reading_line", "status_line"]


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reading_line(r: Reading, site: str) -> str:
    # device, sensor and site are validated names ([a-z0-9_-]): no escaping needed.
    fields = f"seq={r.seq}i"
    if r.value is not None:
        fields = f"value={r.value!r},{fields}"
    if r.unit:
        fields += f",unit={_str(r.unit)}"
    if r.quality:
        fields += f",quality={_str(','.join(sorted(r.quality)))}"
    if not r.clock_synced:
        fields += ",clock_synced=false"
    return f"reading,device={r.device},sensor={r.sensor},site={site} {fields} {r.ts_ns}"


def aggregate_line(a: WindowAggregate) -> str:
    return (
        f"agg,device={a.device},sensor={a.sensor},site={a.site} "
        f"count={a.count}i,mean={a.mean!r},stddev={a.stddev!r},min={a.minimum!r},"
        f"max={a.maximum!r},last={a.last!r} {a.start_ns}"
    )


def alert_line(a: Alert) -> str:
    fields = f"alert_id={_str(a.alert_id)},severity={_str(a.severity)},message={_str(a.message)}"
    if a.value is not None:
        fields += f",value={a.value!r}"
    sensor = f",sensor={a.sensor}" if a.sensor else ""
    return (
        f"alert,device={a.device},rule={a.rule}{sensor},site={a.site},state={a.state.value} "
        f"{fields} {a.ts_ns}"
    )


def status_line(s: DeviceStatus, seen_ns: int) -> str:
    fields = (
        f"online={str(s.online).lower()},buffer_depth={s.buffer_depth}i,"
        f"dropped={sum(s.dropped.values())}i,clock_synced={str(s.clock.synced).lower()},"
        f"seen_ns={seen_ns}i"
    )
    if s.oldest_buffered_age_s is not None:
        fields += f",oldest_buffered_age_s={s.oldest_buffered_age_s!r}"
    return f"device_status,device={s.device},site={s.site} {fields} {s.ts_ns}"


def tagged(measurement: str, tags: dict[str, str], fields: dict[str, float | int], ts: int) -> str:
    """A generic line (pipeline metrics)."""
    tag_text = "".join(f",{_tag(k)}={_tag(v)}" for k, v in sorted(tags.items()))
    field_text = ",".join(
        f"{_tag(k)}={v}i" if isinstance(v, int) else f"{_tag(k)}={v!r}" for k, v in fields.items()
    )
    return f"{measurement}{tag_text} {field_text} {ts}"
