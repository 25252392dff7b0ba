"""TLS for the simulated cluster (`kubedog sim serve --tls`): a CA and a server certificate made at start.

A real API server is reached over HTTPS with a CA from the kubeconfig; serving it the same way tests that the tool
verifies the certificate as the kubeconfig says. The certificates come from the `openssl` command (the standard
library cannot make one): the simulator is a test bed, so it may ask for a tool every CI image has.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DAYS = "2"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
"""P-256 keys: made in milliseconds (RSA takes a good part of a second), accepted by Go, Python and curl."""


class TLSUnavailable(Exception):
    """No certificate could be made: openssl is missing or failed."""


@dataclass(frozen=True)
class Certificates:
    """PEM text: the CA, the server's certificate and key, and a client's (kind's kubeconfig has one too: with no
    credentials at all, kubectl asks for a user name and password over HTTPS)."""

    ca: str
    cert: str
    key: str
    client_cert: str
    client_key: str

    def server_context(self) -> ssl.SSLContext:
        """The server side's context: the certificate and key loaded (through a file: ssl reads no PEM text)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="kubedog-sim-tls-") as directory:
            cert, key = Path(directory) / "server.crt", Path(directory) / "server.key"
            cert.write_text(self.cert)
            key.write_text(self.key)
            context.load_cert_chain(cert, key)
        return context


def make_ca(directory: Path, name: str = "kubedog-sim-ca") -> tuple[Path, Path]:
    """A self-signed CA in `directory`: (certificate, key) paths."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", *CURVE, "-keyout", str(key), "-out", str(cert), "-days", DAYS, "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def generate(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Certificates:
    """A new CA, a server certificate for `hosts` (IP addresses and DNS names) and a client certificate."""
    with tempfile.TemporaryDirectory(prefix="kubedog-sim-tls-") as name:
        directory = Path(name)
        ca = make_ca(directory)
        names = ",".join(_subject_name(host) for host in hosts)
        cert, key = _signed(directory, "server", hosts[0], f"subjectAltName={names}\nextendedKeyUsage=serverAuth", ca)
        client_cert, client_key = _signed(directory, "client", "kubedog-sim-admin",
                                          "extendedKeyUsage=clientAuth", ca)
        return Certificates(ca[0].read_text(), cert, key, client_cert, client_key)


def _signed(directory: Path, name: str, subject: str, usage: str, ca: tuple[Path, Path]) -> tuple[str, str]:
    """A key and a certificate for `subject` signed by the CA, with `usage` among its extensions: PEM texts."""
    key, request, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    _openssl("req", "-new", *CURVE, "-keyout", str(key), "-out", str(request), "-subj", f"/CN={subject}")
    extensions = directory / f"{name}.ext"
    extensions.write_text(f"{usage}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-out", str(cert), "-days", DAYS, "-extfile", str(extensions))
    return cert.read_text(), key.read_text()


def _subject_name(host: str) -> str:
    try:
        return f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        return f"DNS:{host}"


def _openssl(*args: str) -> None:
    program = shutil.which("openssl")
    if program is None:
        raise TLSUnavailable("serving TLS needs the openssl command to make a certificate; it is not on PATH")
    done = subprocess.run([program, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TLSUnavailable(f"openssl {args[0]} failed: {done.stderr.strip()}")
