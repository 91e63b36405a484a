"""Provisioning figures: ``python -m firmware.bench [--devices N]``.

Prints how long it takes to register N devices (hash, registry and broker files rewritten
per device), to build one image from a synthetic Raspberry Pi OS image, and to flash it to a
file with read-back verification. Numbers only; tests never assert on time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from firmware.flash import flash_image
from firmware.image import BuildRequest, build_image
from firmware.image.synthetic import make_raspios_image
from firmware.image.wheel import build_wheel
from firmware.registry import Registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200, help="devices to register")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fieldlink-bench-") as tmp:
        work = Path(tmp)
        registry = Registry(work / "state")
        started = time.perf_counter()
        for index in range(args.devices):
            registry.add(f"pi-{index:05d}", site="bench")
        elapsed = time.perf_counter() - started
        print(
            f"registry: {args.devices} devices added in {elapsed:.2f} s "
            f"({elapsed / args.devices * 1000:.1f} ms/device incl. passwd+acl rewrite)"
        )
        started = time.perf_counter()
        registry.write_password_file(work / "passwd")
        print(f"password file for {args.devices} devices: {time.perf_counter() - started:.3f} s")

        base = make_raspios_image(work / "base.img")
        started = time.perf_counter()
        wheel = build_wheel(work / "wheel")
        print(f"wheel build (pip wheel --no-deps): {time.perf_counter() - started:.2f} s")
        image = work / "pi.img"
        started = time.perf_counter()
        build_image(
            BuildRequest(
                base=base, device="pi-00000", output=image, mqtt_host="broker", wheel=wheel
            ),
            registry=registry,
        )
        size_mib = image.stat().st_size / 2**20
        print(f"image build ({size_mib:.0f} MiB synthetic): {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        flash_image(image, work / "card.bin", allow_file=True)
        elapsed = time.perf_counter() - started
        print(
            f"flash + verify to a file: {elapsed:.2f} s ({2 * size_mib / elapsed:.0f} MiB/s "
            "written+read)"
        )


if __name__ == "__main__":
    main()
