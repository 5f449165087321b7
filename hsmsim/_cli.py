"""The ``hsmsim`` command line: parse, dispatch, map errors to exit codes. No logic lives here.

Exit codes: 0 success / ACCEPT, 1 REJECT (reason on one line), 2 usage or I/O error.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from hsmsim import __version__
from hsmsim.cli_params import GivenPath, ReportedInterrupt, given_text, pkcs11_options, user_pin
from hsmsim.errors import HsmsimError
from hsmsim.keystore import BACKENDS
from hsmsim.model.vectors import Severity
from hsmsim.pki.parse_warnings import quiet_certificate_warnings
from hsmsim.verdict import Profile, Reason, escaped

# Each command imports what it uses in its body: `hsmsim --help` and one `hsmsim verify` need neither the HSM
# model, its state and key stores, nor the formats a command does not reach.
if TYPE_CHECKING:
    from hsmsim.formats import Format
    from hsmsim.keystore.base import KeySpec
    from hsmsim.keystore.pkcs11 import ExistingToken
    from hsmsim.model.evidence import TrustAnchors


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as one line (escaped: a name or option value holding a newline cannot split it) and exit."""
    click.echo(f"hsmsim: error: {escaped(message)}", err=True)
    sys.exit(code)


def _parse_time(text: str | None, option: str = "--at") -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{option} {text!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _default_state() -> str:
    value = os.environ.get("HSMSIM_STATE", ".hsmsim")
    if value == "":  # as --state '' is: an empty path is misuse, never the default in disguise
        raise HsmsimError("HSMSIM_STATE is set but empty: unset it or name a directory")
    return value


def _state_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--state", "state_dir", type=GivenPath(), default=_default_state, show_default=".hsmsim, or $HSMSIM_STATE",
        help="Directory holding the emulated HSM's device identity and keys.",
    )(fn)


class _Group(click.Group):
    """Turns every :class:`HsmsimError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HsmsimError as exc:
            _fail(str(exc))


# Subcommands that live with their concern, imported only when used: name -> ("module:attribute", the first
# paragraph of the command's help, which `hsmsim --help` lists without importing the module).
_LAZY_COMMANDS = {
    "conformance": ("hsmsim.harness.cli:conformance",
                    "Run verifiers over the vector corpus; report a verifier x vector matrix."),
    "fuzz": ("hsmsim.fuzz.cli:fuzz",
             "Fuzz a verifier with structure-aware mutations of the format's golden bundles."),
    "serve": ("hsmsim.server.cli:serve",
              "Serve the Securosys TSB, Azure Managed HSM and Google Cloud KMS key APIs from the emulated HSMs."),
}


class _RootGroup(_Group):
    """The top-level group: adds the lazily imported subcommands that are installed."""

    def _lazy(self, name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_installed_lazy_commands()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._lazy(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, each lazy subcommand shown by its recorded summary instead of imported: the
        imports would double the time ``hsmsim --help`` takes."""
        stand_ins = {name: click.Command(name, help=_LAZY_COMMANDS[name][1]) for name in _installed_lazy_commands()}
        click.Group(commands={**self.commands, **stand_ins}).format_commands(ctx, formatter)


def _installed_lazy_commands() -> list[str]:
    return [name for name, (target, _) in _LAZY_COMMANDS.items() if _module_exists(target.split(":")[0])]


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=_RootGroup)
@click.version_option(__version__, prog_name="hsmsim")
def cli() -> None:
    """hsmsim: software HSM emulator and key-attestation test harness."""


# -- keys ---------------------------------------------------------------------------------

@cli.group(cls=_Group)
def key() -> None:
    """Create and list keys in the emulated HSM."""


def _pkcs11_token(pkcs11_module: Path | None, token_label: str | None,
                  pin_file: Path | None) -> tuple[ExistingToken | None, str | None]:
    """The existing token the pkcs11 options name (None: the state's recorded one, else hsmsim's own) and the user
    PIN to log in with (None when neither ``--pin-file`` nor ``$HSMSIM_PKCS11_PIN`` gives one), checked before
    any state is opened: raises :class:`HsmsimError` (one line) as :func:`~hsmsim.keystore.pkcs11.requested_token`
    and :func:`~hsmsim.cli_params.user_pin` do."""
    token = None
    if token_label is not None or pkcs11_module is not None:
        from hsmsim.keystore.pkcs11 import requested_token

        token = requested_token(pkcs11_module, token_label)
    return token, user_pin(pin_file)


@key.command("create")
@click.option("--label", required=True, help="CKA_LABEL of the new key.")
@click.option("--spec", "spec_text", default="rsa-3072", show_default=True,
              help="rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384|ed25519|aes-128|aes-256")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="soft", show_default=True)
@click.option("--format", "format_name", default=None,
              help="Format the emulated device speaks, fixed when the state is created (default: the state's, "
                   "else primus).")
@click.option("--vendor", "deprecated_vendor", default=None, hidden=True, help="Deprecated alias of --format.")
@click.option("--seed", default=None, callback=given_text, help="Seed of the device PKI when the state is new.")
@click.option("--extractable", is_flag=True, help="Create the key with CKA_EXTRACTABLE=true.")
@click.option("--not-sensitive", is_flag=True, help="Create the key with CKA_SENSITIVE=false.")
@click.option("--imported", is_flag=True, help="Make the material outside and import it (LOCAL=false).")
@click.option("--created", "created_text", default=None,
              help="The key's creation time (ISO 8601, as --at of attest); default now. Not in the future, not "
                   "before the device was initialised.")
@pkcs11_options
@_state_option
def key_create(label: str, spec_text: str, backend: str, format_name: str | None, deprecated_vendor: str | None,
               seed: str | None, extractable: bool, not_sensitive: bool, imported: bool, created_text: str | None,
               pkcs11_module: Path | None, token_label: str | None, pin_file: Path | None, state_dir: Path) -> None:
    """Generate (or import) a key and print its attributes and creation time."""
    from hsmsim.formats import get_format
    from hsmsim.keystore.base import KeyPolicy, KeySpec, label_problem
    from hsmsim.state import HsmState

    if deprecated_vendor is not None:
        click.echo("hsmsim: warning: --vendor is deprecated; use --format", err=True)
        if format_name not in (None, deprecated_vendor):
            _fail(f"--vendor {deprecated_vendor} contradicts --format {format_name}")
        format_name = deprecated_vendor
    problem = label_problem(label, "--label")
    if problem is not None:
        _fail(problem)
    if format_name is not None:
        get_format(format_name)
    spec = KeySpec.parse(spec_text)
    created_at = _parse_time(created_text, "--created")
    if backend != "pkcs11" and (token_label is not None or pkcs11_module is not None):
        _fail(f"--{'token-label' if token_label is not None else 'pkcs11-module'} names the pkcs11 backend's token: "
              f"add --backend pkcs11 (this key would go to the {backend} backend)")
    token, pin = _pkcs11_token(pkcs11_module, token_label, pin_file)
    state = HsmState.open(state_dir, format=format_name, seed=seed, pkcs11_token=token, pkcs11_pin=pin)
    policy = KeyPolicy(sensitive=not not_sensitive, extractable=extractable)
    try:
        created = state.new_key(backend, label, spec, policy, imported=imported, created=created_at)
    except BaseException:
        state.close()
        state.withdraw_if_unused()  # a failed first creation leaves no state behind: a retry may pick its seed
        raise
    attrs = created.attributes
    click.echo(f"{created.label}: {spec.name} on {backend} (device {state.device.format} "
               f"SN {state.device.serial}) local={str(attrs.local).lower()} "
               f"extractable={str(attrs.extractable).lower()} "
               f"never_extractable={str(attrs.never_extractable).lower()} "
               f"sensitive={str(attrs.sensitive).lower()} created={created.created.isoformat()}")
    _note_unattestable(state.device.format, spec)
    state.close()


def _note_unattestable(format_name: str, spec: KeySpec) -> None:
    """A note on stderr when the device's own format cannot attest ``spec`` keys (the key is kept: a generic
    format may attest it), naming what can."""
    from hsmsim.formats import get_format
    from hsmsim.hsm import GENERIC_MECHANISMS

    own = get_format(format_name)
    if spec.name in own.key_specs:
        return
    generic = [name for name in sorted(GENERIC_MECHANISMS) if spec.name in get_format(name).key_specs]
    instead = (f"; attest it with {' or '.join(f'--format {name}' for name in generic)}" if generic
               else "; no format here can attest it")
    click.echo(f"hsmsim: note: {format_name} evidence attests {', '.join(own.key_specs)} keys, not {spec.name}"
               f"{instead}", err=True)


@key.command("list")
@pkcs11_options
@_state_option
def key_list(pkcs11_module: Path | None, token_label: str | None, pin_file: Path | None, state_dir: Path) -> None:
    """List the keys of every backend in the state: label, spec, backend, LOCAL and creation time (tab-separated).

    A backend that cannot be opened or read does not hide the others' keys: they are listed, and the command
    then names what was not listed on one line and exits 2."""
    from hsmsim.state import HsmState

    token, pin = _pkcs11_token(pkcs11_module, token_label, pin_file)
    state = HsmState.open(state_dir, create=False, pkcs11_token=token, pkcs11_pin=pin)
    lines: list[str] = []
    unlisted: list[str] = []
    for backend in state.backends_in_use():
        try:
            keys = state.store(backend).all_keys()
        except HsmsimError as exc:
            unlisted.append(f"the keys of the {backend} backend are not listed: {exc}")
            continue
        lines += [f"{escaped(stored.label)}\t{stored.spec.name}\t{backend}"
                  f"\tlocal={str(stored.attributes.local).lower()}\tcreated={stored.created.isoformat()}"
                  for stored in keys]
    state.close()
    for line in lines:
        click.echo(line)
    if unlisted:
        _fail("; ".join(unlisted))


# -- attest / verify ------------------------------------------------------------------------

# Format parameters whose values are Python objects (e.g. PrimusOptions), never a command-line string.
_PYTHON_ONLY_PARAMS = frozenset({"options", "names", "account_key"})
# A value reaches the format as an int only when it is an integer's one decimal spelling, so text a format reads
# (hex ``0011``, ``+5``) keeps its characters and an int converts back to the digits given.
# Longer digit strings stay text, which a format refuses where it wants a number (no format takes more than 18 digits).
_CANONICAL_INT = re.compile(r"-?[1-9][0-9]{0,17}|0")


@cli.command()
@click.option("--format", "format_name", default=None,
              help="Evidence format to produce (default: the device's, which is primus for a new state).")
@click.option("--key", "label", required=True, help="Label of the key to attest.")
@click.option("--out", "out_text", required=True, callback=given_text,
              help="Where the main file goes, with the main file's suffix (e.g. bundle.zip for a zip); the other "
                   "files are written beside it. A path without a suffix, or ending in /, is a directory.")
@click.option("--attesting-key", default=None, help="Sign with this key instead of the partition's.")
@click.option("--at", "at_text", default=None, help="Attestation time (ISO 8601); default now.")
@click.option("--param", "raw_params", multiple=True, metavar="KEY=VALUE",
              help="A format parameter, e.g. pkc_type=1 for luna-pkc (integers are passed as numbers).")
@pkcs11_options
@_state_option
def attest(format_name: str | None, label: str, out_text: str, attesting_key: str | None,
           at_text: str | None, raw_params: tuple[str, ...], pkcs11_module: Path | None, token_label: str | None,
           pin_file: Path | None, state_dir: Path) -> None:
    """Write a key's attestation evidence in the device's format (like Parsec's AttestKey)."""
    from hsmsim._atomic import write_new_files
    from hsmsim.formats import get_format
    from hsmsim.hsm import GENERIC_MECHANISMS
    from hsmsim.state import HsmState

    if format_name is not None:
        get_format(format_name)
    token, pin = _pkcs11_token(pkcs11_module, token_label, pin_file)
    # A generic mechanism (pkix-evidence, csr-attestation) is produced by a device of any format.
    state = HsmState.open(state_dir, format=None if format_name in GENERIC_MECHANISMS else format_name,
                          create=False, pkcs11_token=token, pkcs11_pin=pin)
    params: dict[str, object] = {}
    for raw in raw_params:
        key_name, sep, value = raw.partition("=")
        if not sep or not key_name:
            _fail(f"--param {raw!r} is not KEY=VALUE")
        if key_name in _PYTHON_ONLY_PARAMS:
            _fail(f"--param {key_name} takes a Python object; set it through the Python API")
        if key_name in params:
            _fail(f"--param {key_name} is given twice")
        params[key_name] = int(value) if _CANONICAL_INT.fullmatch(value) else value
    at = _parse_time(at_text)
    if at is not None:
        params["attest_time"] = at
    evidence = state.hsm(label).attest(label, format_name, params, attesting_key)
    out = Path(out_text)
    # isdir: a name too long is refused when written
    as_file = bool(out.suffix) and not out_text.endswith(os.sep) and not os.path.isdir(out)
    directory = out.parent if as_file else out
    outputs = {(out.name if rel == evidence.primary and as_file else rel): data for rel, data in evidence.files.items()}
    if len(outputs) < len(evidence.files):
        _fail(f"--out {escaped(out.name)} is the name of another file of the bundle "
              f"({', '.join(rel for rel in evidence.files if rel != evidence.primary)}); name the main file otherwise")
    expected = Path(evidence.primary).suffix
    if as_file and out.suffix != expected:
        _fail(f"--out {escaped(out.name)}: the main file of {evidence.format} evidence is a {expected or 'file'} "
              f"({escaped(evidence.primary)}); name it so, or give a directory")
    for target in write_new_files(directory, outputs):
        click.echo(escaped(str(target)))
    state.close()


@cli.command()
@click.argument("bundle", type=GivenPath())
@click.option("--root", "roots", type=GivenPath(), multiple=True,
              help="Trusted root certificate (PEM or DER), or a trust file the format reads: Google's roots.json "
                   "(android-key), an AIK certificate or the CA's PKCS#8 exchange key (ms-kast); repeatable. "
                   "Without one, nothing is trusted: only "
                   "evidence that names no issuer (WebAuthn packed self attestation) can be accepted, and a chain "
                   "is rejected CHAIN_UNTRUSTED ('hsmsim pki export' writes the emulated roots).")
@click.option("--format", "format_name", default=None, callback=given_text,
              help="Evidence format (default: detected).")
@click.option("--at", "at_text", default=None, help="Validation time (ISO 8601); default now.")
@click.option("--profile", type=click.Choice([p.value for p in Profile]), default="structural",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict and claims as JSON.")
def verify(bundle: Path, roots: tuple[Path, ...], format_name: str | None, at_text: str | None,
           profile: str, as_json: bool) -> None:
    """Verify an attestation bundle with hsmsim's reference verifier, trusting the --root certificates (exit 0
    accept, 1 reject)."""
    from hsmsim.formats import detect, get_format, load_evidence, verify_guarded
    from hsmsim.safeio import call_budget

    with call_budget():  # the evidence, its siblings, the anchors and what verifying inflates: one total
        try:
            try:
                os.stat(bundle)  # not Path.exists, which answers False for a symlink loop or a name too long
            except FileNotFoundError:
                _fail(f"{escaped(str(bundle))} does not exist")
            fmt = get_format(format_name) if format_name else detect(bundle)
            evidence = load_evidence(fmt, bundle, ignore=roots)
        except OSError as exc:  # a name too long, a directory where a file belongs, no permission, ...
            _fail(f"cannot read {escaped(str(exc.filename or bundle))}: {exc.strerror or exc}")
        trust = _trust_anchors(fmt, roots)
        validation_time = _parse_time(at_text) or datetime.now(UTC).replace(microsecond=0)
        verdict = verify_guarded(fmt, evidence, trust, at=validation_time, profile=Profile(profile))
    # json.dumps escapes every non-ASCII character and summary() every unprintable one: the output is
    # one ASCII JSON document or one line, whatever the detail holds and whatever stdout's encoding is.
    if as_json:
        document = {**verdict.to_json(), "format": fmt.name, "profile": profile,
                    "validationTime": validation_time.isoformat(), "hsmsimVersion": __version__}
        _echo_line(json.dumps(document, indent=1))
    else:
        hint = _NO_ROOT_HINT if not roots and verdict.reason is Reason.CHAIN_UNTRUSTED else ""
        _echo_line(verdict.summary() + hint)
    sys.exit(0 if verdict.accepted else 1)


def _trust_anchors(fmt: Format, roots: tuple[Path, ...]) -> TrustAnchors:
    """``fmt``'s trust anchors from the ``--root`` files; a file it cannot use is one line that says it is a
    ``--root``, so it is not taken for the evidence."""
    try:
        return fmt.trust_anchors_from_files(list(roots))
    except OSError as exc:  # hsmsim's readers raise BundleError; a plugin format's may not
        where = exc.filename if exc.filename is not None else " ".join(map(str, roots))
        _fail(f"--root: cannot read {escaped(str(where))}: {exc.strerror or exc}")
    except HsmsimError as exc:
        _fail(f"--root: {exc}")


# Appended to the one line (never to --json, whose detail is the verifier's) when a chain found no anchor because
# none was given: the likely cause is the command line, not the evidence.
_NO_ROOT_HINT = " (hint: no --root was given: pass the vendor root, e.g. from `hsmsim pki export`)"


def _echo_line(text: str) -> None:
    """Print ``text``; characters stdout's encoding cannot hold are written as backslash escapes."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding))


# -- pki ---------------------------------------------------------------------------------------

@cli.group(cls=_Group)
def pki() -> None:
    """The simulated manufacturer PKI."""


@pki.command("export")
@click.argument("directory", type=GivenPath())
@_state_option
def pki_export(directory: Path, state_dir: Path) -> None:
    """Write, as PEM files in DIRECTORY, every emulated PKI a verifier of the device's evidence may need.

    root.crt, intermediate-N.crt (N from 1, nearest the attestation certificate first) and attestation.crt are
    the PKI of the device's default attestation identity. Every other PKI its evidence can chain to goes to
    NAME-root.crt, NAME-intermediate-N.crt and NAME-attestation.crt, NAME saying which: the parameter value
    that chooses it (ecdsa-p384 for --param pki_profile=ecdsa-p384), the WebAuthn statement (packed,
    android-key, tpm-ecdsa-p384) or the generic mechanism (pkix-evidence). Give a verifier NAME-root.crt with
    --root. Prints one line per file: its path and the certificate's subject.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    from hsmsim._atomic import write_new_files
    from hsmsim.hsm import pki_exports
    from hsmsim.state import HsmState

    state = HsmState.open(state_dir, create=False)
    outputs = {name: cert for export in pki_exports(state.device) for name, cert in export.files().items()}
    state.close()
    written = write_new_files(directory, {name: cert.public_bytes(Encoding.PEM) for name, cert in outputs.items()})
    for path, cert in zip(written, outputs.values(), strict=True):
        subject = cert.subject.rfc4514_string() or "<empty subject>"
        click.echo(f"{escaped(str(path))}\t{escaped(subject)}")


# -- vectors -----------------------------------------------------------------------------------

@cli.group(cls=_Group)
def vectors() -> None:
    """Generate, check, list, show and extract the vector corpus."""


def _default_corpus() -> Path:
    from hsmsim.harness.vectors import default_vectors_root

    return default_vectors_root()


_VECTORS_OPTION = click.option("--vectors", "corpus", type=GivenPath(), default=_default_corpus,
                               show_default="$HSMSIM_VECTORS, else ./vectors, else the installed corpus",
                               help="The corpus directory.")


@vectors.command("generate")
@click.option("--seed", default=None, callback=given_text,
              help="Master seed (default: the committed manifest's, else the built-in).")
@click.option("--out", "out", type=GivenPath(), default="vectors", show_default=True)
def vectors_generate(seed: str | None, out: Path) -> None:
    """Regenerate every vector, native file, the manifest and the changelog into --out."""
    from rich.progress import Progress

    from hsmsim.corpus.build import DEFAULT_SEED, build_corpus, committed_seed
    from hsmsim.formats import names

    seed = seed or committed_seed(out)  # also refuses an --out that is no directory, before the long work
    todo = names()
    with Progress(transient=True) as progress:
        task = progress.add_task("generating vectors", total=len(todo))

        def advance(format_name: str) -> None:
            progress.update(task, advance=1, description=f"generating {format_name} vectors")

        report = build_corpus(out, seed=seed or DEFAULT_SEED, formats=todo, progress=advance)
    click.echo(f"{report.vectors} vectors, {report.files} files in {report.out}")


@vectors.command("check")
@_VECTORS_OPTION
def vectors_check(corpus: Path) -> None:
    """Regenerate into a temporary directory and compare every byte (exit 1 on the first difference)."""
    from hsmsim.corpus.check import check_corpus

    result = check_corpus(corpus)
    if result.differences:
        click.echo(f"vectors differ from a regeneration: {result.differences[0]} "
                   f"({len(result.differences)} difference(s))")
        sys.exit(1)
    scope = " (a packaged corpus: its vector files, manifest, ids and schema)" if result.packaged else ""
    click.echo(f"OK: {result.files_compared} files identical to a regeneration{scope}")


@vectors.command("extract")
@click.argument("vector_id")
@click.argument("dest", type=GivenPath())
@click.option("--unzip", is_flag=True, help="Also write the bundle zip's members (bounded, no zip-slip).")
@_VECTORS_OPTION
def vectors_extract(vector_id: str, dest: Path, unzip: bool, corpus: Path) -> None:
    """Write one vector's native files and trust anchor into DEST."""
    from hsmsim.corpus.check import extract_vector

    for path in extract_vector(corpus, vector_id, dest, unzip=unzip):
        click.echo(escaped(str(path)))


@vectors.command("list")
@click.option("--format", "format_name", default=None, help="Only vectors of this format.")
@click.option("--flag", default=None, help="Only vectors carrying this flag (e.g. Golden).")
@click.option("--severity", type=click.Choice([s.value for s in Severity]), default=None,
              help="Only vectors of this severity.")
@_VECTORS_OPTION
def vectors_list(format_name: str | None, flag: str | None, severity: str | None, corpus: Path) -> None:
    """One line per vector: id, expected result, expected reason, flags (tab-separated)."""
    from hsmsim.corpus.listing import select, summary_line
    from hsmsim.harness.vectors import load_corpus

    loaded = load_corpus(corpus)
    if format_name is not None and format_name not in loaded.formats():
        _fail(f"no vectors of format {format_name!r} in {corpus} (formats: {', '.join(loaded.formats())})")
    if flag is not None and flag not in loaded.notes:
        _fail(f"no flag {flag!r} in {corpus}")
    for vector in select(loaded, format=format_name, flag=flag, severity=severity):
        click.echo(summary_line(vector))


@vectors.command("show")
@click.argument("vector_id")
@_VECTORS_OPTION
def vectors_show(vector_id: str, corpus: Path) -> None:
    """One vector: comment, flags with their notes, per-profile expectations, provenance, files."""
    from hsmsim.corpus.listing import describe
    from hsmsim.harness.vectors import load_corpus

    loaded = load_corpus(corpus)
    if vector_id not in loaded:
        _fail(f"no vector {vector_id!r} in {corpus} (hsmsim vectors list shows the ids)")
    for line in describe(loaded.get(vector_id), loaded):
        click.echo(line)


@vectors.command("promote")
@click.argument("finding", type=GivenPath())
@click.option("--vectors", "corpus", type=GivenPath(), default="vectors", show_default=True,
              help="The corpus directory to promote into.")
@click.option("--expect", "expect", default=None, metavar="ACCEPT|REJECT:REASON",
              help="What every profile must answer, when the finding is not one catalogue defect alone "
                   "(the reference verifier's answer is never taken for it).")
def vectors_promote(finding: Path, corpus: Path, expect: str | None) -> None:
    """Add a fuzz finding (a findings/<name> directory) to the corpus, then regenerate it. A --vectors that holds no
    generated corpus (missing, empty, or without its manifest) is refused before anything is written."""
    from hsmsim.corpus.build import build_corpus
    from hsmsim.corpus.check import master_seed
    from hsmsim.fuzz.findings import parse_expectation, promote, read_finding

    expected = parse_expectation(expect) if expect is not None else None
    read_finding(finding)  # a bad finding is named first, whatever the corpus
    seed = master_seed(corpus)  # the regeneration needs it: refuse a corpus without one before promote() writes
    vector_id = promote(finding, corpus, expected)
    report = build_corpus(corpus, seed=seed)
    click.echo(f"promoted {vector_id}; {report.vectors} vectors in {corpus}")


@cli.command("formats")
def formats_command() -> None:
    """List the registered attestation formats."""
    from hsmsim.formats import get_format, names

    for format_name in names():
        click.echo(f"{format_name}\t{get_format(format_name).title}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    quiet_certificate_warnings()
    # SIGTERM (timeout, a CI job's cancel, kill) ends a run as Ctrl-C does: through the finally blocks that stop
    # the verifier and worker processes it started. `serve` hands both signals to uvicorn.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = cli.main(args=argv, prog_name="hsmsim", standalone_mode=False)
    except click.UsageError as exc:  # click's own four lines (usage, hint, blank, error) become one
        if isinstance(exc, click.exceptions.NoArgsIsHelpError) and exc.ctx is not None:
            # A group given no subcommand: its help, on stdout as --help prints it, with click's usage-error exit
            # code (a script whose arguments went missing fails).
            click.echo(exc.ctx.get_help())
            sys.exit(exc.exit_code)
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"hsmsim: error: {escaped(exc.format_message())}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        if not isinstance(exc, ReportedInterrupt):
            click.echo("Aborted!", err=True)
        # 128 + the signal, as a shell reports a command a signal ended: never 1, which says "anomalies found"
        sys.exit(128 + _interrupted_by)
    sys.exit(code if isinstance(code, int) else 0)


_interrupted_by = signal.SIGINT.value
"""The signal that interrupted the command: SIGINT (Ctrl-C) unless :func:`_terminated` saw SIGTERM."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler: remember it, then interrupt as Ctrl-C does."""
    global _interrupted_by
    _interrupted_by = signum
    signal.default_int_handler(signum, frame)
