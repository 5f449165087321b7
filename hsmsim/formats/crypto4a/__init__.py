"""Crypto4A QASM attestation messages (DER claims signed by an ECDSA and an HSS/LMS assertion authority).

Importing this package registers its format."""

from hsmsim.formats import register
from hsmsim.formats.crypto4a.format import Crypto4aFormat

CRYPTO4A = register(Crypto4aFormat())
