"""Test-only Apple PKI: a root, an intermediate and a leaf with Apple's OIDs, and JWS signed the way Apple signs."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LEAF_OID = "1.2.840.113635.100.6.11.1"
INTERMEDIATE_OID = "1.2.840.113635.100.6.2.1"
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2040, 1, 1, tzinfo=UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, oid: str | None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if oid:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00"),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class ApplePki:
    root_pem: str
    chain: tuple[str, str, str]  # base64 DER: leaf, intermediate, root
    leaf_key: Any

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.leaf_key, algorithm="ES256", headers={"x5c": list(self.chain)})


@cache
def make_pki(label: str = "Test") -> ApplePki:
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert(f"{label} Root", root_key, f"{label} Root", root_key, ca=True, oid=None)
    inter = _cert(f"{label} Intermediate", inter_key, f"{label} Root", root_key, ca=True, oid=INTERMEDIATE_OID)
    leaf = _cert(f"{label} Leaf", leaf_key, f"{label} Intermediate", inter_key, ca=False, oid=LEAF_OID)
    der = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (leaf, inter, root)]
    return ApplePki(root.public_bytes(serialization.Encoding.PEM).decode(), (der[0], der[1], der[2]), leaf_key)


@cache
def api_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


BUNDLE = "com.supportdesk.coins"
T0_MS = int(datetime(2026, 9, 1, 12, tzinfo=UTC).timestamp() * 1000)


def transaction(tid: str = "2000000001", **over: Any) -> dict[str, Any]:
    txn = {
        "transactionId": tid, "originalTransactionId": tid, "bundleId": BUNDLE, "productId": "coins_70",
        "type": "Consumable", "quantity": 1, "purchaseDate": T0_MS, "storefront": "USA", "price": 990,
        "currency": "USD", "appAccountToken": str(uuid.UUID(int=1)), "environment": "Sandbox",
        "inAppOwnershipType": "PURCHASED", "signedDate": T0_MS + 1000,
    }
    txn.update(over)
    return txn


def notification(txn: dict[str, Any], pki: ApplePki, kind: str = "ONE_TIME_CHARGE",
                 signed_date: int | None = None) -> dict[str, Any]:
    payload = {
        "notificationType": kind, "notificationUUID": str(uuid.uuid4()), "version": "2.0",
        "signedDate": signed_date or txn["signedDate"],
        "data": {"bundleId": txn["bundleId"], "environment": txn["environment"], "appAppleId": 1234567890,
                 "signedTransactionInfo": pki.sign(txn)},
    }
    return {"signedPayload": pki.sign(payload), "sendAttempts": []}


def apple_config(base_url: str = "http://apple.test/apple", pki: ApplePki | None = None, **over: Any
                 ) -> dict[str, Any]:
    config = {
        "base_url": base_url, "issuer_id": "issuer-1", "key_id": "KEY123", "private_key": api_key_pem(),
        "bundle_id": BUNDLE, "app_apple_id": 1234567890, "environment": "Sandbox",
        "root_certificates": [(pki or make_pki()).root_pem],
        "requests_per_second": 10_000,  # pacing has its own tests (test_throttle.py); these must not wait
    }
    config.update(over)
    return config


def later(ms: int, **delta: float) -> int:
    return ms + int(timedelta(**delta).total_seconds() * 1000)
