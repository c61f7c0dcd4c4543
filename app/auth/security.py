"""Password hashing, random tokens, and tokens signed with the instance secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; False for a missing user too."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are long and random: a plain SHA-256 is the right store (no brute force possible)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(secret: str, purpose: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_token(*, secret: str, purpose: str) -> str:
    """A random value and its HMAC under `secret` for `purpose`: `<value>.<mac>` (cookie-safe characters)."""
    value = secrets.token_urlsafe(32)
    return f"{value}.{_mac(secret, purpose, value)}"


def signed_token_ok(token: str, *, secret: str, purpose: str) -> bool:
    """Whether `token` was made by `signed_token` with this secret and purpose (constant-time comparison)."""
    value, dot, mac = (token or "").partition(".")
    if not value or not dot or len(token) > 200:
        return False
    return hmac.compare_digest(mac.encode(), _mac(secret, purpose, value).encode())
