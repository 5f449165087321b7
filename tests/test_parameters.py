"""Bad format parameter values: every format either uses or refuses them with an :class:`HsmsimError`.

``--param KEY=VALUE`` hands a format a str, or an int when the value is all digits (``hsmsim._cli.attest``);
the Python API hands it anything. For every registered format and every parameter it reads, each value of
:data:`BAD_VALUES` must either give evidence or raise :class:`HsmsimError`, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from hsmsim.device import Device, flag_parameter
from hsmsim.errors import HsmsimError, ParameterError
from hsmsim.formats import names
from hsmsim.hsm import ATTEST_TIME_RANGE, Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED

LABEL = "key-ec-p256"
"""Every format attests EC P-256 keys."""

BAD_VALUES: tuple[object, ...] = ("abc", "", "zz", "-1", "0x10", 10**30, -1, 0)

_ANDROID = ("security_level", "shape", "challenge")  # android/generate.py request_inputs, generate_evidence
_PIV = ("pin_policy", "touch_policy", "fips", "generation", "slot", "profile")  # yubico/format.py generate
_KAST = ("output", "ksp_name", "id_binding", "pki_profile")  # tpm/kast_format.py; pki_profile: tpm/format.py profiled
_CEREMONY = ("rp_id", "user_verified", "challenge", "origin")  # webauthn/ceremony.py ceremony_for

PARAMETERS: Mapping[str, tuple[tuple[Mapping[str, object], tuple[str, ...]], ...]] = {
    # name -> (fixed parameters, the parameter names swept under them), ...
    # ``options``, ``names`` and ``account_key`` are Python objects (the CLI refuses them): swept all the same
    # android/acme.py generate_acme_evidence: the challenge is the key authorization, not a parameter
    "android-acme": (({}, ("security_level", "shape", "key_authorization", "options")),),
    "android-key": (({}, (*_ANDROID, "options")),),  # options: android/format.py generate
    "apple-acme": (({}, ("token", "identifier", "identifier_type")),),  # apple/acme.py acme_draft_for
    # apple/appattest.py app_attest_draft_for
    "apple-appattest": (({}, ("environment", "challenge", "app_id", "receipt_environment")),),
    "crypto4a": (({}, ("hss",)),),  # crypto4a/generate.py hss_choice
    "csr-attestation": (({}, ("statements", "form", "nonce")),  # ietf/csr.py generate, draft_for (request_nonce)
                        ({"statements": "tcg-attest-certify"}, ("sig_encoding",))),  # ietf/csr.py make_statement
    "fortanix": (({}, ("options",)),),  # fortanix/format.py generate
    "luna-pkc": (({}, ("pkc_type", "options")),),  # luna/generate.py generate_pkc
    "marvell-azure": (({}, ("key_id", "options", "names")),),  # marvell/generate.py generate
    "marvell-google": (({}, ("key_id", "options", "names")),),
    "ms-kast": (({}, _KAST),),
    # tpm/parsec.py parsec_draft_for
    "parsec-tpm": (({}, ("nonce", "credential", "platform_token", "pcrs", "activate_credential", "pki_profile")),),
    "pkix-evidence": (({}, ("nonce", "fips_level", "vendor")),),  # ietf/evidence.py, ietf/format.py generate
    "primus": (({}, ("key_use_count", "csr_common_name", "csr", "options")),),  # primus/format.py generate
    "purebred": (  # purebred/generate.py kind_for, generate; the rest go to the kind's inner format
        ({}, ("kind", "container")),
        ({"kind": "android"}, _ANDROID),
        ({"kind": "yubikey"}, tuple(name for name in _PIV if name != "profile")),  # purebred writes ykman's
        ({"kind": "windows"}, ("output", "ksp_name", "id_binding")),
    ),
    "smartcard-hsm": (({}, ()),),  # cardcontact/format.py generate: no parameters
    "tpm-acme": (({}, ("token", "identifier", "pki_profile", "account_key")),),  # tpm/acme.py acme_draft_for
    "webauthn": (  # webauthn/format.py generate (fmt), then the ceremony's and the statement's own
        ({}, ("fmt", *_CEREMONY, "signature_encoding", "pki_profile")),  # tpm/format.py _tpm_inputs, profiled
        ({"fmt": "packed"}, ("attestation",)),  # webauthn/standard.py attestation_type
        ({"fmt": "android-key"}, ("security_level", "shape")),  # android/webauthn.py draft_for
        ({"fmt": "fido-u2f"}, ()),
        ({"fmt": "apple"}, ()),
        ({"fmt": "none"}, ()),
    ),
    "yubico-piv": (({}, _PIV),),
    "yubihsm2": (({}, ()),),  # yubico/format.py YubiHsm2Format.generate: no parameters
}

_HSMS: dict[str, Hsm] = {}


def _hsm(format_name: str) -> Hsm:
    """One device of ``format_name`` per session over one soft key store holding the EC P-256 key."""
    if not _HSMS:
        store = SoftKeyStore(seed=SEED)
        store.generate(KeySpec.parse("ec-p256"), LABEL, created=KEY_CREATED)
        _HSMS[""] = Hsm(Device.from_seed("primus", SEED), store)
    if format_name not in _HSMS:
        _HSMS[format_name] = Hsm(Device.from_seed(format_name, SEED), _HSMS[""].keystore)
    return _HSMS[format_name]


def _cases() -> list[tuple[str, Mapping[str, object], str, object]]:
    return [(format_name, fixed, parameter, value)
            for format_name, sweeps in PARAMETERS.items() for fixed, parameters in sweeps
            for parameter in parameters for value in BAD_VALUES]


def test_every_format_is_swept() -> None:
    assert sorted(PARAMETERS) == sorted(names())


@pytest.mark.parametrize(("format_name", "fixed", "parameter", "value"), _cases())
def test_a_bad_parameter_value_is_used_or_refused(format_name: str, fixed: Mapping[str, object], parameter: str,
                                                   value: object) -> None:
    parameters = {**fixed, parameter: value, "attest_time": ATTEST_TIME}
    try:
        _hsm(format_name).attest(LABEL, format_name, parameters)
    except ParameterError as exc:
        assert f"parameter {parameter} " in str(exc)
    except HsmsimError:
        pass


@pytest.mark.parametrize(("format_name", "fixed"), [(format_name, fixed) for format_name, sweeps in PARAMETERS.items()
                                                   for fixed, _ in sweeps])
def test_an_unknown_parameter_is_refused_naming_it(format_name: str, fixed: Mapping[str, object]) -> None:
    # also where a format hands the request to another one (android-acme to android-key, purebred to its kind's)
    with pytest.raises(ParameterError, match=f"{format_name} has no parameter 'colour'"):
        _hsm(format_name).attest(LABEL, format_name, {**fixed, "colour": "red", "attest_time": ATTEST_TIME})


def test_the_message_names_the_parameter_and_cuts_a_long_value() -> None:
    message = str(ParameterError.invalid("nonce", "hex text", "x" * 100))
    assert message == f"parameter nonce must be hex text, not '{'x' * 36}..."
    assert str(ParameterError.invalid("fips_level", "an integer from 1 to 4", 10**30)).endswith(f"not {10**30}")


@pytest.mark.parametrize(("given", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("true", True), (" Yes", True), ("1", True),
    ("FALSE", False), ("no", False), ("0", False),
])
def test_a_yes_no_parameter_takes_bools_0_1_and_their_words(given: object, expected: bool) -> None:
    assert flag_parameter({"fips": given}, "fips", not expected) is expected
    assert flag_parameter({}, "fips", expected) is expected
    assert flag_parameter({"fips": None}, "fips", expected) is expected


@pytest.mark.parametrize("given", ["on", "", 2, -1, b"1"])
def test_a_yes_no_parameter_refuses_anything_else(given: object) -> None:
    with pytest.raises(ParameterError, match="parameter fips must be true or false"):
        flag_parameter({"fips": given}, "fips", False)


@pytest.mark.parametrize("format_name", names())
@pytest.mark.parametrize("at", [datetime(1, 1, 1, tzinfo=UTC), datetime(1979, 12, 31, 23, 59, 59, tzinfo=UTC),
                                datetime(2108, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)],
                         ids=["0001", "1979", "2108", "9999"])
def test_an_attestation_time_a_format_cannot_encode_is_a_parameter_error_naming_the_range(format_name: str,
                                                                                           at: datetime) -> None:
    earliest, latest = ATTEST_TIME_RANGE
    store = SoftKeyStore(seed=SEED)  # its key exists at every time tried: only the format's range can refuse one
    store.generate(KeySpec.parse("ec-p256"), LABEL, created=earliest)
    try:
        Hsm(Device.from_seed(format_name, SEED), store).attest(LABEL, format_name, {"attest_time": at})
    except ParameterError as exc:
        assert "must be between" in str(exc)
    else:
        assert earliest <= at <= latest  # a time outside the common range is never taken


@pytest.mark.parametrize("common_name", ["x" * 65, "\U0001F600" * 17, "", " ", "a\uffff", "a\ud800", "a\nb"])
def test_a_csr_common_name_no_certificate_can_carry_is_a_parameter_error(common_name: str) -> None:
    with pytest.raises(ParameterError, match="parameter csr_common_name must"):
        _hsm("primus").attest(LABEL, "primus", {"csr_common_name": common_name, "attest_time": ATTEST_TIME})
