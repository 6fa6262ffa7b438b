"""TLS: the box's key and certificates (see `core.tls.certificates`)."""

from core.tls.certificates import (
    CERT_MIN_DAYS,
    ensure_tls_key,
    tlsa_value,
    valid_certificate_names,
)

__all__ = ["CERT_MIN_DAYS", "ensure_tls_key", "tlsa_value", "valid_certificate_names"]
