"""What tells a Crypto4A attestation message on disk, importable without its codec, verifier, generator or PKI:
the format's name, the message's suffix, PEM label and bound, and the root copy written beside it.
:mod:`~hsmsim.formats.crypto4a.generate`, :mod:`~hsmsim.formats.crypto4a.message` and
:mod:`~hsmsim.formats.crypto4a.verify` use the same values."""

FORMAT = "crypto4a"
MESSAGE_SUFFIX = "_attestation.pem"
ROOT_FILE = "c4a_rca_root.pem"
PEM_LABEL = "ATTESTATION MESSAGE"
MAX_MESSAGE_BYTES = 256 * 1024
