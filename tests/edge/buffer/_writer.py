"""A writer process for the kill -9 test: appends forever, printing each committed seq."""

from __future__ import annotations

import sys
from pathlib import Path

from edge.buffer import SqliteBuffer
from fieldlink.messages import Reading


def main(path: str, record: bool) -> None:
    buffer = SqliteBuffer(Path(path), device="pi-07", durability_ms=5, record=record)
    reported = buffer.committed_seq
    seq = buffer.next_seq
    while True:
        buffer.append(
            [
                Reading(device="pi-07", sensor="temp", value=float(s), ts_ns=10**18 + s, seq=s)
                for s in range(seq, seq + 50)
            ]
        )
        seq += 50
        if buffer.committed_seq != reported:
            reported = buffer.committed_seq
            print(reported, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], record="--record" in sys.argv[2:])
