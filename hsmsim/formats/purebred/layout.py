"""What tells a Purebred enrollment request on disk, importable without the envelope codec, verifier, generator
or PKI: the format's name, the request's bound and file names, the files read beside it, the evidence attributes'
OIDs and the Android KeyDescription a pre-enrollment container is recognised by, and the PEM reader of a request.
:mod:`~hsmsim.formats.purebred.envelope`, :mod:`~hsmsim.formats.purebred.verify` and
:mod:`~hsmsim.formats.purebred.generate` use the same values."""

from __future__ import annotations

import base64
import binascii

FORMAT = "purebred"
MAX_REQUEST_BYTES = 1024 * 1024
PUREBRED_ARC = "1.3.6.1.4.1.37623.26"
ATTRIBUTE_OIDS = {"android": f"{PUREBRED_ARC}.2", "windows": f"{PUREBRED_ARC}.3", "yubikey": f"{PUREBRED_ARC}.4"}
"""The evidence attribute of each kind, under DISA's arc."""
ANDROID_KEY_DESCRIPTION = "1.3.6.1.4.1.11129.2.1.17"

CHALLENGE_SUFFIX = ".challenge"
STATUS_FILE = "attestation-status.json"
SIBLING_SUFFIXES = {"android": (CHALLENGE_SUFFIX, STATUS_FILE), "windows": (".ca-exchange.p8", ".aik-ca.pem"),
                    "yubikey": ()}
"""The files beside a request that its inner format reads: Android's issued challenge and Google's status list;
the Windows CA's exchange key (which opens the enveloped AIK information) and the AIK's CA certificates."""
TARGET_SUFFIXES = ("_target.der", ".target.der", "_target.pem", ".target.pem")
REQUEST_SUFFIX = "_request.bin"
PREENROLL_SUFFIX = "_attestation.bin"
"""How the generator names a pre-enrollment container (a request otherwise)."""
REQUEST_SUFFIXES = (REQUEST_SUFFIX, PREENROLL_SUFFIX)


def basename(rel: str) -> str:
    """The file name of a relative path."""
    return rel.rsplit("/", 1)[-1]


def is_target_name(rel: str) -> bool:
    """True for a target certificate's file name (``X_target.der``, ``X.target.pem``, ...)."""
    return basename(rel).endswith(TARGET_SUFFIXES)


def request_der(data: bytes) -> bytes:
    """DER of a DER or PEM ``CERTIFICATE REQUEST`` file; raises ValueError."""
    stripped = data.strip()
    if not stripped.startswith(b"-----BEGIN"):
        return data
    lines = stripped.splitlines()
    if b"CERTIFICATE REQUEST" not in lines[0]:
        raise ValueError("not a PEM CERTIFICATE REQUEST")
    try:
        return base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None
