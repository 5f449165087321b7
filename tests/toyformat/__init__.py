"""``toy``: a minimal but real attestation format that lives only under tests/.

It shows that a format needs no edit to hsmsim: the tests register it in-process with
:func:`hsmsim.formats.register`, and advertise it to ``python -m hsmsim`` subprocesses as a plugin
(entry point ``toy = tests.toyformat:FORMAT`` in the group ``hsmsim.formats``).
"""

from __future__ import annotations

from tests.toyformat.format import ToyFormat

FORMAT = ToyFormat()
