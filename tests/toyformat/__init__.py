"""``toy``: a minimal but real attestation format that lives only under tests/.

It shows that a format needs no edit to hsmsim: the tests register it in-process with
:func:`hsmsim.formats.register`, and advertise it to ``python -m hsmsim`` subprocesses as a plugin
(entry point ``toy = tests.toyformat:FORMAT`` in the group ``hsmsim.formats``).
"""

from __future__ import annotations

from tests.toyformat.format import ToyFormat

FORMAT = ToyFormat()



class _WithoutPkiExports:
    """The toy format as a plugin written before the contract had ``pki_exports``."""

    def __init__(self) -> None:
        self._toy = ToyFormat()

    def __getattr__(self, name: str) -> object:
        if name == "pki_exports":
            raise AttributeError(name)
        return getattr(self._toy, name)


WITHOUT_PKI_EXPORTS = _WithoutPkiExports()
