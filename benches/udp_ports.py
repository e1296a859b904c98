"""UDP port helpers shared by the live benchmarks (imported from the scripts beside it)."""

import socket


def free_port(even=False):
    """A UDP port on 127.0.0.1 that nothing held just now; with `even`, rounded down to even
    (RTP's convention, RTCP on the odd port above)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port & ~1 if even else port


def bound(port):
    """Whether something listens on UDP `port` (from /proc/net/udp)."""
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(f":{port:04X}") for line in f.readlines()[1:])
