"""docs/examples/nginx.conf run by the real `nginx` binary, in front of sidecars on loopback.

`render()` turns the example into a config this machine can run unprivileged paths with: the
replicas' upstream lines become the given ports, the TLS server listens on a loopback port with
a throw-away self-signed certificate, the redirect server on another, and logs and temp files
go to a temp dir. Everything else is the example as users read it, so the test checks the
file a user copies. Each substitution must match exactly as often as expected: if the example
changes shape, the harness says which line it could not find instead of testing something else.

`Nginx(...)` is a context manager: nginx in the foreground as a child process, stopped (and
its temp dir removed) at the end.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from ..service.server import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "nginx.conf"
START_TIMEOUT = 30.0
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxError(AssertionError):
    """nginx could not be set up or started; the message says why (and has its log)."""


def nginx_binary() -> str | None:
    """The nginx executable (Debian puts it in /usr/sbin, not always on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _sub(text: str, pattern: str, replacement: str | Callable[[re.Match[str]], str],
         count: int) -> str:
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if found != count:
        raise NginxError(f"{EXAMPLE}: expected {count} line(s) matching {pattern!r}, "
                         f"found {found}")
    return new


def _worker_user() -> str:
    """As root nginx runs its workers as another user; nobody, with nobody's own group."""
    if os.geteuid() != 0:
        return ""  # the workers run as whoever started nginx
    nobody = pwd.getpwnam("nobody")
    return f"user {nobody.pw_name} {grp.getgrgid(nobody.pw_gid).gr_name};"


def render(example: str, *, upstreams: Sequence[int], https_port: int, http_port: int,
           workdir: Path, certificate: Path, key: Path) -> str:
    """The example config with loopback ports, the given certificate and paths in `workdir`."""
    text = _sub(example, r"^user \S+;$", _worker_user(), 1)
    servers = re.findall(r"^(\s*)server 10\.0\.0\.\d+:8765 ([^;]*);$", example, re.MULTILINE)
    if not servers:
        raise NginxError(f"{EXAMPLE}: no `server 10.0.0.N:8765 ...;` line in the upstream")
    indent, params = servers[0]
    lines = "\n".join(f"{indent}server 127.0.0.1:{port} {params};" for port in upstreams)
    text = _sub(text, r"^\s*server 10\.0\.0\.\d+:8765 [^;]*;\n", "", len(servers))
    text = _sub(text, r"^(\s*)upstream mandate_rules \{\n",
                lambda m: f"{m.group(0)}{lines}\n", 1)
    text = _sub(text, r"^\s*listen \[::\]:\d+[^;]*;\n", "", 2)
    text = _sub(text, r"^(\s*)listen 80;$", rf"\g<1>listen 127.0.0.1:{http_port};", 1)
    text = _sub(text, r"^(\s*)listen 443 ssl http2;$",
                rf"\g<1>listen 127.0.0.1:{https_port} ssl;", 1)
    text = _sub(text, r"^(\s*ssl_certificate) \S+;$", rf"\g<1> {certificate};", 1)
    text = _sub(text, r"^(\s*ssl_certificate_key) \S+;$", rf"\g<1> {key};", 1)
    text = _sub(text, r"^(\s*access_log) \S+ ", rf"\g<1> {workdir / 'access.log'} ", 1)
    temp = "".join(f"    {name}_temp_path {workdir / name};\n" for name in TEMP_PATHS)
    return _sub(text, r"^http \{\n", lambda m: m.group(0) + temp, 1)


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl), and its key."""
    certificate, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True, timeout=60)
    return certificate, key


class Nginx:
    """The example config run by nginx in front of `upstreams` (ports on 127.0.0.1)."""

    def __init__(self, upstreams: Sequence[int]) -> None:
        binary = nginx_binary()
        if binary is None:
            raise NginxError("nginx is not installed (apt-get install nginx)")
        self.binary = binary
        # Not pytest's tmp_path: as root the workers run as nobody, who must reach the temp
        # dirs, and pytest's base dir is private to its user.
        self.workdir = Path(tempfile.mkdtemp(prefix="mandate-rules-nginx-"))
        try:
            self.workdir.chmod(0o755)
            self.certificate, self.key = self_signed(self.workdir)
            self.https_port, self.http_port = free_port(), free_port()
            self.conf = self.workdir / "nginx.conf"
            self.conf.write_text(render(EXAMPLE.read_text(), upstreams=upstreams,
                                        https_port=self.https_port, http_port=self.http_port,
                                        workdir=self.workdir, certificate=self.certificate,
                                        key=self.key))
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.log = self.workdir / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> Nginx:
        directives = f"daemon off; pid {self.workdir / 'nginx.pid'}; error_log stderr warn;"
        with self.log.open("wb") as log:
            # Its own session: should nginx not stop, the workers go with the master.
            self.proc = subprocess.Popen(
                [self.binary, "-e", "stderr", "-p", str(self.workdir), "-c", str(self.conf),
                 "-g", directives],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NginxError(f"nginx exited ({self.proc.returncode}):\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.https_port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NginxError(f"nginx did not listen within {START_TIMEOUT} s:\n{self.log_text()}")

    def stop(self) -> None:
        """SIGQUIT (a graceful stop), then SIGKILL to the whole group if it lingers."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGQUIT)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
