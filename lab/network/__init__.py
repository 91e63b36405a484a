"""Real network faults for the lab and the partition scenarios.

- :mod:`lab.network.netns`: each simulated device in its own Linux network namespace, joined
  to the host by a veth pair; partitions by link down or by nftables dropping every packet;
  bandwidth limits with tc tbf. Needs root.
- :mod:`lab.network.proxy`: a fault-injecting TCP proxy in user space for latency, jitter
  and loss (the kernel's netem is not available everywhere), and for every fault where
  namespaces are not available.
"""

from .netns import DeviceNamespace, NetworkError, PartitionMode, namespaces_available
from .proxy import FaultProxy, Faults

__all__ = [
    "DeviceNamespace",
    "FaultProxy",
    "Faults",
    "NetworkError",
    "PartitionMode",
    "namespaces_available",
]
