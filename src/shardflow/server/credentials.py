"""Access keys and their accounts (``--credentials FILE``), and the account of any key.

Two file formats, told apart by their content:

- TOML, one ``[[credentials]]`` table per key::

      [[credentials]]
      access_key_id = "AKIAIOSFODNN7EXAMPLE"
      secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
      account_id = "111111111111"

- the AWS shared-credentials format (``~/.aws/credentials``), one profile per key, with the
  ``aws_account_id`` setting the AWS CLI and SDKs also read::

      [team-a]
      aws_access_key_id = AKIAIOSFODNN7EXAMPLE
      aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      aws_account_id = 111111111111

A key not in the file belongs to the account it spells when it is 12 digits (what other local
emulators do, so a test can pick its account through its access key), else to ``--account-id``.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

_ACCOUNT = re.compile(r"\d{12}")


class CredentialsError(ValueError):
    """The credentials file cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    account_id: str


class Credentials:
    """Keys by access key id; an empty set when no file is given."""

    def __init__(self, entries: list[Credential] | None = None) -> None:
        self.by_key = {c.access_key_id: c for c in entries or ()}

    def account_of(self, access_key_id: str, default: str) -> str:
        known = self.by_key.get(access_key_id)
        if known is not None:
            return known.account_id
        return access_key_id if _ACCOUNT.fullmatch(access_key_id) else default

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            entries = _shared_format(text, path)
        else:
            entries = _toml_format(document, path)
        if not entries:
            raise CredentialsError(f"{path} names no access keys")
        return cls(entries)


def _toml_format(document: dict[str, object], path: Path) -> list[Credential]:
    tables = document.get("credentials")
    if not isinstance(tables, list):
        raise CredentialsError(f"{path}: expected [[credentials]] tables")
    entries = []
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise CredentialsError(f"{path}: credentials entry {number} is not a table")
        entries.append(
            _entry(
                table.get("access_key_id"),
                table.get("secret_access_key"),
                table.get("account_id"),
                f"{path}: credentials entry {number}",
            )
        )
    return entries


def _shared_format(text: str, path: Path) -> list[Credential]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise CredentialsError(
            f"{path} is neither TOML nor an AWS credentials file: {exc}"
        ) from None
    return [
        _entry(
            parser[name].get("aws_access_key_id"),
            parser[name].get("aws_secret_access_key"),
            parser[name].get("aws_account_id"),
            f"{path}: profile [{name}]",
        )
        for name in parser.sections()
    ]


def _entry(key: object, secret: object, account: object, where: str) -> Credential:
    if not isinstance(key, str) or not key:
        raise CredentialsError(f"{where} has no access key id")
    if not isinstance(secret, str) or not secret:
        raise CredentialsError(f"{where} has no secret access key")
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise CredentialsError(f"{where} needs an account id of 12 digits")
    return Credential(key, secret, account)
