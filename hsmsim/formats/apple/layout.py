"""What tells the Apple records on disk, importable without their codecs, verifiers or generators: each format's
name, record suffix and record bound. :mod:`~hsmsim.formats.apple.acme` and :mod:`~hsmsim.formats.apple.appattest`
use the same values."""

from hsmsim.webauthn.limits import MAX_ATTESTATION_OBJECT

ACME_FORMAT = "apple-acme"
ACME_RECORD_SUFFIX = ".acme-apple.json"
ACME_MAX_RECORD = 2 * MAX_ATTESTATION_OBJECT
APPATTEST_FORMAT = "apple-appattest"
APPATTEST_RECORD_SUFFIX = ".appattest.json"
APPATTEST_MAX_ATTESTATION = 64 * 1024
APPATTEST_MAX_RECORD = 2 * APPATTEST_MAX_ATTESTATION
