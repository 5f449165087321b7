"""hsmsim: a software HSM emulator and key-attestation test harness.

Emulated evidence is shaped byte-for-byte like the vendors' own, but every
manufacturer root in here is a simulation: nothing hsmsim signs chains to a
real vendor root.
"""

from __future__ import annotations

__version__ = "0.1.0"
