"""What the exporter prints as it goes: one flushed line per event, sizes in MB of 2^20 bytes."""

from __future__ import annotations

# Sizes are printed in MB of 2^20 bytes, as mora prints them.
MB = 1 << 20


def log(msg: str) -> None:
    print(msg, flush=True)
