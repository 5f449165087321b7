"""The ``hsmsim serve`` command: run the vendor API emulation on uvicorn."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

import click

from hsmsim._atomic import write_atomic
from hsmsim.cli_params import GivenPath, given_text
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.safeio import read_local_file
from hsmsim.server.tls import ensure_tls_files, is_loopback, tls_ca
from hsmsim.state import DEFAULT_SEED, existing_directory
from hsmsim.verdict import escaped

_MAX_TOKEN_BYTES = 4096


def _token(state: Path, given: str | None) -> str:
    """The bearer token: ``given``, else the one kept in ``STATE/token`` (read bounded), else a new one kept there."""
    path = state / "token"
    if given:
        return given
    if os.path.lexists(path):
        try:
            token = read_local_file(path, _MAX_TOKEN_BYTES).decode("ascii").strip()
        except BundleError as exc:
            raise HsmsimError(f"corrupt server state: {exc}") from None
        except UnicodeDecodeError:
            raise HsmsimError(f"corrupt server state {escaped(str(path))}: the token is not ASCII") from None
        if not token:
            raise HsmsimError(f"corrupt server state {escaped(str(path))}: the token is empty")
        return token
    token = secrets.token_urlsafe(24)
    write_atomic(path, token.encode())
    path.chmod(0o600)
    return token


def _require_free_port(host: str, port: int) -> None:
    """Exit 2 with one line when ``host:port`` cannot be listened on (uvicorn would log and exit 1). Every address
    ``host`` resolves to is tried, IPv4 or IPv6, as asyncio's server binds them."""
    try:
        for family, kind, protocol, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                     flags=socket.AI_PASSIVE):
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except (OSError, UnicodeError) as exc:  # a name that does not resolve, or that IDNA cannot encode
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        click.echo(f"hsmsim: error: cannot listen on {escaped(host)}:{port}: {escaped(why)}", err=True)
        sys.exit(2)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
              help="0 takes a free port, which the serving line names.")
@click.option("--tls/--no-tls", default=True, show_default=True,
              help="HTTPS with a certificate from hsmsim's emulated TLS CA (the Azure SDK requires TLS).")
@click.option("--state", "state_dir", type=GivenPath(), default=".hsmsim-server", show_default=True,
              help="Where keys, passwords, versions and TLS files persist across restarts.")
@click.option("--token", default=None, callback=given_text,
              help="Bearer token clients must send (default: generated once, kept in STATE/token).")
@click.option("--seed", default=None, callback=given_text,
              help=f"Seed of the emulated devices (default {DEFAULT_SEED}). Given, it also derives the TLS CA and "
                   "server keys (reproducible, for tests); otherwise they are random, made once per state directory.")
@click.option("--print-ca", is_flag=True, help="Print the TLS CA certificate a client must trust (made in the "
              "state directory if new), and exit.")
def serve(host: str, port: int, tls: bool, state_dir: Path, token: str | None, seed: str | None,
          print_ca: bool) -> None:
    """Serve the Securosys TSB, Azure Managed HSM and Google Cloud KMS key APIs from the emulated HSMs."""
    from cryptography.hazmat.primitives.serialization import Encoding

    if not host.strip():  # an empty host (an unset variable, say) would listen on every interface
        click.echo("hsmsim: error: --host must not be empty (use 0.0.0.0 to listen on every interface)", err=True)
        sys.exit(2)
    existing_directory(state_dir)
    if print_ca:
        try:
            ca = tls_ca(state_dir / "tls", seed)[0]
        except OSError as exc:
            raise HsmsimError(f"cannot write the TLS CA in {escaped(str(state_dir))}: {exc.strerror}") from exc
        click.echo(ca.public_bytes(Encoding.PEM).decode(), nl=False)
        return
    import uvicorn

    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore
    from hsmsim.server.transport import HsmsimServer, uvicorn_options

    _require_free_port(host, port)
    options = uvicorn_options()
    store = ServerStore(state_dir, seed or DEFAULT_SEED)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        bearer = _token(state_dir, token)
        store.read_existing()
        files = ensure_tls_files(state_dir / "tls", seed, [host]) if tls else None
    except OSError as exc:
        raise HsmsimError(f"cannot write the server state in {escaped(str(state_dir))}: {exc.strerror}") from exc
    if files is not None:
        options.update(ssl_certfile=str(files.cert), ssl_keyfile=str(files.key))
        click.echo(f"TLS CA: {files.ca}", err=True)
        if not is_loopback(host):
            click.echo(f"warning: the TLS CA is constrained to loopback; the certificate does not name {host}",
                       err=True)
    scheme = "https" if tls else "http"
    # A --token is not written to STATE/token: a token given for one run must not become the next run's default.
    where = "given with --token" if token else f"in {state_dir / 'token'}"
    authority = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in a URL

    def announce(listening: int) -> None:  # once listening, with the port the system chose for --port 0
        click.echo(f"hsmsim serving TSB (/v1/...), Managed HSM (/keys/...) and Cloud KMS (/v1/projects/...) on "
                   f"{scheme}://{authority}:{listening} (bearer token {where})", err=True)
        sys.stderr.flush()

    app = HsmsimApp(store, bearer)
    server = HsmsimServer(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                         timeout_graceful_shutdown=3, **options))  # type: ignore[arg-type]
    server.on_listening = announce
    # Not uvicorn.run, which swallows the Ctrl-C or SIGTERM that the server re-raises once it has shut down: the
    # command then exits 130 or 143 as every other interrupted one does.
    server.run()
    if server.stopped_by is not None:
        # SIGINT ignored when hsmsim started, so uvicorn's re-raise did nothing (SIGTERM has main's handler, which
        # raises): the command was interrupted all the same, and main exits 130.
        raise click.Abort
    if not server.started:
        raise HsmsimError(f"the server could not start on {host}:{port} (see uvicorn's message above)")
