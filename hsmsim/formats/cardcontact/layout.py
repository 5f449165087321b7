"""What tells SmartCard-HSM evidence on disk, importable without the CV codec, verifier, generator or PKI: the
format's name, the request's suffix, the files written beside it, and the tags an authenticated request starts with.
:mod:`~hsmsim.formats.cardcontact.generate` and :mod:`~hsmsim.formats.cardcontact.verify` use the same names."""

FORMAT = "smartcard-hsm"
REQUEST_SUFFIX = ".cvreq"
C_DEVAUT_FILE = "C_DevAut.bin"
ROOT_FILE = "smartcard-hsm_root.pem"
CV_CERTIFICATE_TAG = b"\x7f\x21"
"""The tag of a CV certificate (and of the request inside an authenticated request)."""


def starts_as_request(head: bytes) -> bool:
    """``head`` (the first 8 bytes or fewer of a file) starts as an authenticated request: tag ``67`` whose value
    starts with a ``7F21``."""
    if head[:1] != b"\x67" or len(head) < 4:
        return False
    offset = {0x81: 3, 0x82: 4}.get(head[1], 2)
    return head[offset:offset + 2] == CV_CERTIFICATE_TAG
