"""Multi-factor authentication (BEHAVIOUR.md §8, SYSTEM.md §4): TOTP secrets and codes, QR
codes as module matrices and PNGs, and the service that enables and disables methods."""

from core.mfa.service import MfaMethod, MfaService, MfaStatus, TotpProvisioning

__all__ = ["MfaMethod", "MfaService", "MfaStatus", "TotpProvisioning"]
