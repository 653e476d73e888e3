"""Apple's root certificates for the verifier: PEM text in the config, or files, PEM or DER.

Apple ships its roots (AppleRootCA-G3.cer, www.apple.com/certificateauthority/) as DER `.cer` files, so a
path to one is accepted as it was downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supportdesk.errors import ConfigError

PEM_MARK = "-----BEGIN"


def load_roots(value: Any) -> list[bytes]:
    """Each root as DER bytes, which is what Apple's SignedDataVerifier takes."""
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise ConfigError("[stores.apple] root_certificates must be a PEM certificate or a path to a .cer/.pem "
                          "file, or a list of them")
    return [_one(entry) for entry in entries]


def _one(entry: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if entry.lstrip().startswith(PEM_MARK):
        where, data = "a PEM entry", entry.encode()
    else:
        where = str(Path(entry).expanduser())
        try:
            data = Path(where).read_bytes()
        except OSError as exc:
            raise ConfigError(f"[stores.apple] root_certificates: cannot read {where}: {exc.strerror or exc}") from exc
    try:
        if data.lstrip().startswith(PEM_MARK.encode()):
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(data).public_bytes(Encoding.DER)
    except ValueError as exc:
        raise ConfigError(f"[stores.apple] root_certificates: {where} is not a PEM or DER certificate: {exc}") from exc
