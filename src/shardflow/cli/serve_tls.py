"""``serve --tls`` without a certificate: the local CA, and how each client is told to trust it."""

from __future__ import annotations

from pathlib import Path

import click


def local_ca_certificate(data_dir: Path, host: str) -> tuple[Path, Path]:
    """The local CA's server certificate, and how to make clients trust it (on stderr)."""
    from shardflow.server.tls import local_ca_files

    files = local_ca_files(data_dir.resolve() / "tls", host)
    assert files.ca is not None  # the local CA always has one
    click.echo(
        f"TLS: clients must trust {files.ca}\n"
        f"  boto3 / AWS CLI: export AWS_CA_BUNDLE={files.ca}\n"
        f"  Node.js:         export NODE_EXTRA_CA_CERTS={files.ca}\n"
        f"  Java:            {java_truststore_hint(files.ca)}",
        err=True,
    )
    return files.cert, files.key


JAVA_TRUSTSTORE_PASSWORD = "changeit"  # the JDK's own cacerts password: no secret here


def java_truststore_hint(ca: Path) -> str:
    """How a Java program trusts the local CA: a PKCS12 truststore made once with keytool, and
    the JVM's flags. keytool asks for a password unless given one, and a JVM reading a PKCS12
    truststore without its password finds no certificate in it (the SDK then fails with 'the
    trustAnchors parameter must be non-empty'), so both get the password."""
    store = ca.parent / "truststore.p12"
    return (
        f"keytool -importcert -noprompt -alias shardflow -file {ca} -keystore {store}"
        f" -storepass {JAVA_TRUSTSTORE_PASSWORD}\n"
        f"                   java -Djavax.net.ssl.trustStore={store}"
        f" -Djavax.net.ssl.trustStorePassword={JAVA_TRUSTSTORE_PASSWORD} ..."
    )
