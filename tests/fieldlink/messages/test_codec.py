"""The JSON codec: lossless round trips, and every bad payload refused with its reason."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldlink.messages import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DecodeError,
    DecodeReason,
    DeviceStatus,
    ReadingBatch,
    decode,
    encode,
)

from .strategies import messages, reading_batches

pytestmark = pytest.mark.unit

_BOOT = "0" * 32


def _batch_dict() -> dict[str, object]:
    return {
        "v": 1,
        "type": "reading_batch",
        "device": "pi-1",
        "site": "lab",
        "boot_id": _BOOT,
        "seq_first": 3,
        "seq_last": 3,
        "readings": [
            {
                "device": "pi-1",
                "sensor": "temp",
                "value": 21.5,
                "unit": "degC",
                "ts_ns": 1,
                "seq": 3,
            }
        ],
    }


@given(messages)
def test_round_trip_is_lossless(message: object) -> None:
    assert decode(encode(message)) == message  # type: ignore[arg-type]


def test_a_live_batch_reads_as_before_the_backlog_flag_existed() -> None:
    live = decode(orjson.dumps(_batch_dict()), ReadingBatch)
    assert not live.backlog
    assert orjson.loads(encode(live)) == {
        **_batch_dict(),
        "readings": [{**_batch_dict()["readings"][0], "mono_ns": None, "kind": "sample",  # type: ignore[index]
                      "quality": [], "clock_synced": True}],
    }  # fmt: skip
    drained = live.model_copy(update={"backlog": True})
    assert orjson.loads(encode(drained))["backlog"] is True
    assert decode(encode(drained), ReadingBatch) == drained


@given(reading_batches())
def test_decode_with_expected_type(batch: ReadingBatch) -> None:
    assert decode(encode(batch), ReadingBatch) == batch
    with pytest.raises(DecodeError) as info:
        decode(encode(batch), DeviceStatus)
    assert info.value.reason is DecodeReason.WRONG_TYPE


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError as exc:
        error = exc
    else:
        return
    assert error.reason in set(DecodeReason)
    assert error.size == len(data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_is_refused_cleanly(value: object) -> None:
    with pytest.raises(DecodeError):
        decode(orjson.dumps(value))


def test_oversized_payload_is_refused_before_parsing() -> None:
    payload = b"{" + b" " * DEFAULT_MAX_PAYLOAD_BYTES + b"}"
    with pytest.raises(DecodeError) as info:
        decode(payload)
    assert info.value.reason is DecodeReason.OVERSIZED
    assert info.value.size == len(payload)
    assert "limit" in str(info.value)


def test_custom_size_limit() -> None:
    data = orjson.dumps(_batch_dict())
    assert isinstance(decode(data, max_bytes=len(data)), ReadingBatch)
    with pytest.raises(DecodeError) as info:
        decode(data, max_bytes=len(data) - 1)
    assert info.value.reason is DecodeReason.OVERSIZED


@pytest.mark.parametrize(
    ("payload", "reason", "fragment"),
    [
        (b"not json", DecodeReason.MALFORMED, "not JSON"),
        (b"[1, 2]", DecodeReason.MALFORMED, "JSON object"),
        (b'{"type": "reading_batch"}', DecodeReason.INVALID, "schema version"),
        (b'{"v": true}', DecodeReason.INVALID, "schema version"),
        (b'{"v": 2, "type": "reading_batch"}', DecodeReason.UNSUPPORTED_VERSION, "version 2"),
        (b'{"v": 1, "type": "nope"}', DecodeReason.INVALID, "type"),
    ],
)
def test_bad_payloads_carry_their_reason(payload: bytes, reason: DecodeReason, fragment: str):
    with pytest.raises(DecodeError) as info:
        decode(payload)
    assert info.value.reason is reason
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["readings"][0].update(device="pi-2"), "belongs to device"),
        (lambda d: d.update(seq_last=4), "seq_first/seq_last"),
        (lambda d: d["readings"][0].update(value=None), "bad"),
        (lambda d: d.update(device="Pi/1"), "device"),
        (lambda d: d.update(readings=[]), "readings"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["readings"][0].update(seq=-1), "seq"),
    ],
)
def test_invalid_batches_name_the_field(mutate, fragment: str) -> None:  # type: ignore[no-untyped-def]
    data = _batch_dict()
    mutate(data)
    with pytest.raises(DecodeError) as info:
        decode(orjson.dumps(data))
    assert info.value.reason is DecodeReason.INVALID
    assert fragment in info.value.detail


def test_decreasing_seqs_in_a_batch_are_invalid() -> None:
    data = _batch_dict()
    second = dict(data["readings"][0])  # type: ignore[index]
    second["seq"] = 2
    data["readings"] = [data["readings"][0], second]  # type: ignore[index]
    data["seq_last"] = 2
    with pytest.raises(DecodeError, match="strictly increasing"):
        decode(orjson.dumps(data))


def test_non_finite_values_are_refused() -> None:
    # orjson writes NaN as null; a JSON producer that emits a bare NaN is not JSON at all.
    payload = orjson.dumps(_batch_dict()).replace(b"21.5", b"NaN")
    with pytest.raises(DecodeError) as info:
        decode(payload)
    assert info.value.reason is DecodeReason.MALFORMED
