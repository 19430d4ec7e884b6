"""Throwaway credentials for one control plane: CAs, certificates, service-account keys, tokens, kubeconfigs.

The model is envtest's: a serving CA signs the apiserver's certificate (localhost, 127.0.0.1); a client
CA signs user certificates (CN = user, O = groups; the admin is O=system:masters); a key pair signs and
verifies service-account tokens. A static token file adds named users with no rights at all, so tests
can grant exactly what they check. Everything is valid for a week and lives in the control plane's
temporary directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=7)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass(frozen=True)
class _CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common: str) -> _CA:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(_name(common))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self, common: str, *, orgs: Sequence[str] = (), server: bool = False
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common, orgs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Credentials:
    """Files written under one directory; `tokens` maps each token user to its bearer token."""

    directory: Path
    serving_ca: Path
    serving_cert: Path
    serving_key: Path
    client_ca: Path
    admin_cert: Path
    admin_key: Path
    sa_public: Path
    sa_private: Path
    token_file: Path
    tokens: Mapping[str, str]


def generate(directory: Path, token_users: Mapping[str, Sequence[str]]) -> Credentials:
    """Write every credential one control plane needs into `directory` (mode 0700)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    serving = _CA.create("gitops-ray-dev serving CA")
    clients = _CA.create("gitops-ray-dev client CA")
    server_key, server_cert = serving.issue("kube-apiserver", server=True)
    admin_key, admin_cert = clients.issue("admin", orgs=["system:masters"])
    sa_key = _key()
    tokens = {user: secrets.token_hex(24) for user in token_users}
    # token,user,uid,"group1,group2" (kube-apiserver's --token-auth-file format)
    lines = [f'{tokens[user]},{user},uid-{user},"{",".join(groups)}"' for user, groups in token_users.items()]
    d = directory
    return Credentials(
        directory=d,
        serving_ca=_write(d / "serving-ca.crt", _pem(serving.cert)),
        serving_cert=_write(d / "apiserver.crt", _pem(server_cert)),
        serving_key=_write(d / "apiserver.key", _key_pem(server_key), private=True),
        client_ca=_write(d / "client-ca.crt", _pem(clients.cert)),
        admin_cert=_write(d / "admin.crt", _pem(admin_cert)),
        admin_key=_write(d / "admin.key", _key_pem(admin_key), private=True),
        sa_public=_write(
            d / "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
        sa_private=_write(d / "sa.key", _key_pem(sa_key), private=True),
        token_file=_write(d / "tokens.csv", ("\n".join(lines) + "\n").encode(), private=True),
        tokens=tokens,
    )


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca: Path,
    user: str,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    token: str | None = None,
    context: str = "gitops-ray-dev",
) -> Path:
    """A kubeconfig with one cluster, one user and one current context (JSON is valid YAML)."""
    credentials: dict[str, str] = {}
    if client_cert is not None and client_key is not None:
        credentials = {"client-certificate": str(client_cert), "client-key": str(client_key)}
    if token is not None:
        credentials["token"] = token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    return _write(path, (json.dumps(config, indent=1) + "\n").encode(), private=True)
