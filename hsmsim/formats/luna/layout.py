"""The files of Luna PKC evidence: what ``cmu getpkc`` and ``cmu requestcertificate`` name them, importable
without the DER reader, verifier, generator or PKI.

One PKC is ``<stem>-pkc.p7b`` (``.p7c`` and ``.p7`` are read too) beside the key's ``<stem>.csr``
and the root file to trust, named as Thales publishes the real roots. The bounds and the PKCS#7 content type
here are the ones :mod:`~hsmsim.formats.luna.der_reader` enforces and :mod:`~hsmsim.formats.luna.generate` writes.
"""

from __future__ import annotations

FORMAT_NAME = "luna-pkc"
RSA_ROOT_FILE = "luna-rsa-root-certificate.pem"
ECC_ROOT_FILE = "luna-ecc-root-certificate.pem"
TC_ROOT_FILE = "luna-tc-root-certificate.pem"
PKC_SUFFIXES = (".p7b", ".p7c", ".p7")
MAX_PKC_BYTES = 1024 * 1024
MAX_CSR_BYTES = 64 * 1024
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"


def pkc_stem(name: str) -> str:
    """The stem a PKC file and its CSR share: ``keys/a-pkc.p7b`` and ``a.csr`` both give ``a``."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.removesuffix("-pkc")


def root_file_for(ec_key: bool, pkc_type: int) -> str:
    """The file name of the root a verifier trusts for this hierarchy (the real ones' names)."""
    return ECC_ROOT_FILE if ec_key else (TC_ROOT_FILE if pkc_type == 1 else RSA_ROOT_FILE)


def names_the_pkc(csr_name: str, stem: str) -> bool:
    """True when the CSR file ``csr_name`` is named for the PKC of ``stem``: ``<stem>.csr``, or the stem and a
    separator then more (the published samples' ``rsa-test.csr`` beside ``rsa-pkc.p7b``). ``k10.csr`` is not
    ``k1``'s."""
    csr_stem = pkc_stem(csr_name)
    return csr_stem == stem or (csr_stem.startswith(stem) and csr_stem[len(stem):len(stem) + 1] in ("-", "_", "."))
