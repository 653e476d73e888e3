"""Test keys and certificates the emulator signs with, and the app authenticates with.

Apple's payloads are JWS with an ``x5c`` chain leaf -> intermediate -> root, carrying the marker extensions
Apple's ``SignedDataVerifier`` checks (leaf 1.2.840.113635.100.6.11.1, intermediate 1.2.840.113635.100.6.2.1).
The root is a self-signed test CA, so the verifier accepts the chain only when given this root.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import string
import uuid
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from supportdesk.secret_files import write_private

LEAF_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")
INTERMEDIATE_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")
_ASN1_NULL = b"\x05\x00"
# Wide validity: the verifier checks the chain at each payload's signedDate, which follows the emulator clock.
_NOT_BEFORE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_NOT_AFTER = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)
GOOGLE_PROJECT = "supportdesk-emulator"


@dataclass(frozen=True)
class Keys:
    """Every secret of one emulator; PEM strings so they persist as JSON."""

    apple_key_id: str
    apple_issuer_id: str
    apple_api_key: str  # private key the app signs its API JWT with
    root_key: str
    root_cert: str
    intermediate_key: str
    intermediate_cert: str
    leaf_key: str
    leaf_cert: str
    google_key_id: str
    google_key: str
    google_client_email: str
    web_secret_key: str

    @classmethod
    def generate(cls) -> Keys:
        root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
        root = _certificate("Supportdesk Emulator Test Root CA", root_key, root_key, None, ca=True, oid=None)
        inter = _certificate(
            "Supportdesk Emulator WWDR Intermediate", inter_key, root_key, root, ca=True, oid=INTERMEDIATE_OID
        )
        leaf = _certificate(
            "Supportdesk Emulator StoreKit Signing", leaf_key, inter_key, inter, ca=False, oid=LEAF_OID
        )
        return cls(
            apple_key_id="".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10)),
            apple_issuer_id=str(uuid.uuid4()),
            apple_api_key=_private_pem(ec.generate_private_key(ec.SECP256R1())),
            root_key=_private_pem(root_key),
            root_cert=_cert_pem(root),
            intermediate_key=_private_pem(inter_key),
            intermediate_cert=_cert_pem(inter),
            leaf_key=_private_pem(leaf_key),
            leaf_cert=_cert_pem(leaf),
            google_key_id=secrets.token_hex(20),
            google_key=_private_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            google_client_email=f"supportdesk@{GOOGLE_PROJECT}.iam.gserviceaccount.com",
            web_secret_key="sk_test_" + secrets.token_urlsafe(24).replace("-", "").replace("_", ""),
        )

    @classmethod
    def load_or_generate(cls, path: Path | None) -> Keys:
        """Reuse the keys saved at ``path`` so a restart keeps them; else make and save new ones."""
        if path is not None and path.is_file():
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        keys = cls.generate()
        if path is not None:
            write_private(path, json.dumps(asdict(keys), indent=2))
        return keys

    @cached_property
    def x5c(self) -> list[str]:
        certs = (self.leaf_cert, self.intermediate_cert, self.root_cert)
        der = (
            x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER) for pem in certs
        )
        return [base64.b64encode(d).decode() for d in der]

    @cached_property
    def root_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.root_cert.encode()).public_bytes(serialization.Encoding.DER)

    @cached_property
    def apple_api_public_key(self) -> Any:
        return serialization.load_pem_private_key(self.apple_api_key.encode(), None).public_key()

    @cached_property
    def google_public_key(self) -> Any:
        return serialization.load_pem_private_key(self.google_key.encode(), None).public_key()

    @cached_property
    def _leaf_private(self) -> Any:
        return serialization.load_pem_private_key(self.leaf_key.encode(), None)

    def sign_jws(self, payload: dict[str, Any], *, broken: bool = False) -> str:
        """An Apple-style signed payload; ``broken`` corrupts the signature (the bad_signature fault)."""
        token = jwt.encode(payload, self._leaf_private, algorithm="ES256", headers={"x5c": self.x5c})
        if not broken:
            return token
        head, body, signature = token.split(".")
        # Changing the first character always changes the decoded bytes (later ones may be padding bits).
        flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
        return f"{head}.{body}.{flipped}"


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    *,
    ca: bool,
    oid: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Supportdesk Emulator"),
        ]
    )
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer else None), critical=True)
        .add_extension(_key_usage(ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if oid is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, _ASN1_NULL), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _private_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
