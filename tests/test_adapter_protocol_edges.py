"""Edges of the verifier protocols: a persistent verifier's line that no request asked for never answers one, a flood
of blank lines costs linear time and is cut at the answer bound, a oneshot verdict line longer than the kept tail keeps
its reason, and a command template that cannot be filled in is refused when the adapter file is read."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from hsmsim.harness.adapters import MAX_LINE_BYTES, open_verifier
from hsmsim.harness.config import AdapterConfig, AdapterConfigError, load_adapter
from hsmsim.harness.model import Actual
from hsmsim.harness.processes import LINE_HEAD_BYTES, TAIL_BYTES, OutputTail
from hsmsim.harness.vectors import Corpus, load_corpus, materialise

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ("primus::golden::rsa-2048", "primus::golden::rsa-3072", "primus::golden::ec-p256")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(ROOT / "vectors")


def _adapter(tmp_path: Path, body: str, scripts: dict[str, str]) -> AdapterConfig:
    for name, text in scripts.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    path = tmp_path / "adapter.toml"
    path.write_text(textwrap.dedent(body))
    return load_adapter(path)


def _persistent(tmp_path: Path, on_hello: str, on_verify: str, timeout_s: float = 5) -> AdapterConfig:
    """A persistent verifier: ``on_hello`` and ``on_verify`` are expressions giving the bytes written (in one
    write) for a hello and for a verify request ``r``."""
    server = f"""
        import json, os, sys
        for line in sys.stdin:
            r = json.loads(line)
            os.write(1, {on_hello} if r["op"] == "hello" else {on_verify})
    """
    return _adapter(tmp_path, f'mode = "persistent"\ncommand = ["{{python}}", "server.py"]\ntimeout_s = {timeout_s}\n',
                    {"server.py": server})


HELLO = 'json.dumps({"formats": ["primus"]}).encode() + b"\\n"'
ACCEPT = 'json.dumps({"id": r["id"], "verdict": "ACCEPT"}).encode() + b"\\n"'


# -- 1. a line no request asked for ----------------------------------------------------------------------------------

@pytest.mark.parametrize("surplus", [
    {"id": GOLDEN[0], "verdict": "REJECT", "reason": "MALFORMED"},  # the first request's id, guessed
    {"formats": ["primus"]},  # the hello answered twice
])
def test_a_line_written_after_the_hello_answers_no_request(tmp_path, corpus, surplus):
    """The line waits in the pipe before the request is written: it is refused, not taken as the answer (nor is each
    answer after it taken for the next request's)."""
    line = json.dumps(surplus)
    config = _persistent(tmp_path, f"{HELLO} + {line.encode()!r} + b'\\n'", ACCEPT)
    with open_verifier(config) as live:
        answers = [live.verify(corpus.get(vector_id)) for vector_id in GOLDEN]
    for answer in answers:
        assert answer.verdict is Actual.ERROR, answer
        assert answer.detail == f"wrote a line before this request was sent (no request asked for it): {line} " \
                                "(process restarted)", answer


def test_blank_lines_after_the_hello_are_no_line(tmp_path, corpus):
    config = _persistent(tmp_path, f"{HELLO} + b'\\n  \\n'", ACCEPT)
    with open_verifier(config) as live:
        assert [live.verify(corpus.get(vector_id)).verdict for vector_id in GOLDEN] == [Actual.ACCEPT] * 3
        assert live.restarts == 0


# -- 2. blank lines --------------------------------------------------------------------------------------------------

def test_blank_lines_before_an_answer_cost_linear_time(tmp_path, corpus):
    """A megabyte of blank lines (one line each), then the answer: read within the deadline, at C speed."""
    blank = MAX_LINE_BYTES - 4096
    config = _persistent(tmp_path, HELLO, f"b'\\n' * {blank} + {ACCEPT}", timeout_s=5)
    with open_verifier(config) as live:
        start = time.monotonic()
        answers = [live.verify(corpus.get(vector_id)) for vector_id in GOLDEN]
        elapsed = time.monotonic() - start
    assert [answer.verdict for answer in answers] == [Actual.ACCEPT] * 3, answers
    assert elapsed < 3, f"{elapsed:.1f} s for 3 MB of blank lines"


def test_a_flood_of_blank_lines_is_cut_at_the_answer_bound(tmp_path, corpus):
    """Blank lines without end: an ERROR once they pass the bound of an answer line, not a HANG at the deadline."""
    server = """
        import json, os, sys
        for line in sys.stdin:
            if json.loads(line)["op"] == "hello":
                os.write(1, json.dumps({"formats": ["primus"]}).encode() + b"\\n")
            else:
                while True:
                    os.write(1, b"\\n" * 65536)
    """
    config = _adapter(tmp_path, 'mode = "persistent"\ncommand = ["{python}", "server.py"]\ntimeout_s = 10\n',
                      {"server.py": server})
    with open_verifier(config) as live:
        answer = live.verify(corpus.get(GOLDEN[0]))
    assert (answer.verdict, answer.detail) == (Actual.ERROR, f"answer line and the blank lines before it longer than "
                                                             f"{MAX_LINE_BYTES} bytes (process restarted)")
    assert answer.duration_ms < 3000


# -- 3. a long verdict line ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("after", ["", "\n", "\n\n  \n"])
def test_a_oneshot_verdict_line_longer_than_the_tail_keeps_its_reason(tmp_path, corpus, after):
    detail = "x" * (TAIL_BYTES * 25)
    config = _adapter(tmp_path, 'mode = "oneshot"\ncommand = ["{python}", "verify.py"]\n', {"verify.py": f"""
        import sys
        print("some progress")
        sys.stdout.write("REJECT SIGNATURE_INVALID: " + {detail!r} + {after!r})
        sys.exit(1)
    """})
    with open_verifier(config) as live:
        answer = live.verify(corpus.get(GOLDEN[0]))
    assert (answer.verdict, answer.reason) == (Actual.REJECT, "SIGNATURE_INVALID"), answer.detail[:100]
    assert answer.detail.startswith("REJECT SIGNATURE_INVALID: xxx")


STREAMS = [
    b"first\nREJECT KEY_MISMATCH: " + b"y" * 10_000 + b"\n\n \t\n",
    b"ACCEPT\n" + b" " * 9000 + b"REJECT X" + b"z" * 9000,  # an unended line, its leading blanks dropped
    b"\n \n\t\n",
    b"one\ntwo\r\nprogress 10%\rREJECT CERT_EXPIRED\n\n",
    b"",
    b"ACCEPT",
]


def _expected_head(stream: bytes) -> bytes:
    lines = [line.lstrip() for line in stream.split(b"\n") if line.strip()]
    return lines[-1][:LINE_HEAD_BYTES] if lines else b""


@pytest.mark.parametrize("size", [1, 7, 4096, 65536])
@pytest.mark.parametrize("stream", STREAMS, ids=range(len(STREAMS)))
def test_output_tail_keeps_the_head_of_the_last_line_however_the_stream_is_cut(stream, size):
    tail = OutputTail()
    for start in range(0, len(stream), size):
        tail.add(stream[start:start + size])
    assert tail.last_line() == _expected_head(stream).decode()
    assert tail.total == len(stream) and bytes(tail.tail) == stream[-TAIL_BYTES:]


# -- 4. placeholders -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argument", "problem"), [
    ("{file:}", "placeholder {file:...} needs a file name or suffix"),
    ("{file}", "placeholder {file:...} needs a file name or suffix"),
    ("--in={primary:zip}", "unknown placeholder {primary:zip}"),
    ("{nonsense}", "unknown placeholder {nonsense}"),
])
def test_a_oneshot_command_that_cannot_be_filled_in_is_refused_when_read(tmp_path, argument, problem):
    (tmp_path / "verify.sh").write_text("#!/bin/sh\nexit 0\n")
    path = tmp_path / "bad.toml"
    path.write_text(f'mode = "oneshot"\ncommand = ["./verify.sh", "{{primary}}", "{argument}"]\n')
    with pytest.raises(AdapterConfigError) as raised:
        load_adapter(path)
    assert str(raised.value).startswith(f"{path}: command: {problem}")


def test_a_oneshot_command_of_known_placeholders_and_literal_braces_is_taken(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text('mode = "oneshot"\ncommand = ["{python}", "{here}/v.py", "{{primary}}", "{file:.csr}", '
                    '"--json={\\"a\\": 1}", "{anchors_dir}", "{unix_time}"]\n')
    assert load_adapter(path).command[2] == "{{primary}}"


@pytest.mark.parametrize(("lines", "key", "placeholder"), [
    ('mode = "persistent"\ncommand = ["{python}", "{here}/s.py", "{primary}"]\n', "command", "{primary}"),
    ('mode = "persistent"\ncommand = ["{python}", "s.py"]\nversion_cmd = ["./v", "{id}"]\n', "version_cmd", "{id}"),
    ('mode = "oneshot"\ncommand = ["./v", "{primary}"]\nversion_cmd = ["./v", "{file:.csr}"]\n', "version_cmd",
     "{file:.csr}"),
    ('mode = "oneshot"\ncommand = ["./v", "{primary}"]\nenv = {TRUST = "{anchor}"}\n', "env", "{anchor}"),
    ('mode = "persistent"\ncommand = ["./s"]\nenv = {PY = "{python:3}"}\n', "env", "{python:3}"),
])
def test_a_case_placeholder_outside_a_oneshot_command_is_refused_when_read(tmp_path, lines, key, placeholder):
    """Only a oneshot command is filled in per case: elsewhere a case's placeholder would reach the verifier as its
    literal text."""
    path = tmp_path / "bad.toml"
    path.write_text(lines)
    with pytest.raises(AdapterConfigError) as raised:
        load_adapter(path)
    assert str(raised.value) == (f"{path}: {key}: placeholder {placeholder} is not filled in here: {key} is set up "
                                 "outside any case, so it may use only {python} and {here} (only a oneshot command "
                                 "is filled in per case)")


def test_python_here_and_literal_braces_outside_a_oneshot_command_are_taken(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text('mode = "persistent"\ncommand = ["{python}", "{here}/s.py", "--json={{\\"a\\": 1}}"]\n'
                    'version_cmd = ["{python}", "--version"]\nenv = {PYTHONPATH = "{here}/lib"}\n')
    config = load_adapter(path)
    assert config.command[2] == '--json={{"a": 1}}' and config.env == {"PYTHONPATH": "{here}/lib"}


@pytest.mark.parametrize("key", ["nonesuch.csr", ".csr-none", "../../etc/passwd", ".x/../..", "a/b/../../.."])
def test_a_file_placeholder_that_matches_nothing_names_a_missing_file_directly_in_the_case_directory(
        tmp_path, corpus, key):
    with materialise(corpus.get(GOLDEN[0]), "structural", tmp_path) as inputs:
        found = inputs.find_file(key)
        assert found.parent == inputs.dir and found.name.startswith("missing") and not found.exists(), found
        assert inputs.find_file("attestation.zip").is_file()
