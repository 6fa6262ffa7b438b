"""TLS: the box's key and certificates (`certificates`), the reference's check (`check`), the
inventory of `ssl/` (`inventory`), ACME (`acme`) and the area's service (`service`)."""

from core.tls.certificates import (
    CERT_MIN_DAYS,
    ensure_system_certificate,
    ensure_tls_key,
    tlsa_value,
    valid_certificate_names,
)

__all__ = [
    "CERT_MIN_DAYS",
    "ensure_system_certificate",
    "ensure_tls_key",
    "tlsa_value",
    "valid_certificate_names",
]
