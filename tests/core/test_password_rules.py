"""The password rules as a face shows them while the admin types (`unmet_password_rules`),
and that `validate_password` refuses with the same messages."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.mail.passwords import (
    MAX_PASSWORD_LENGTH,
    TOO_LONG,
    TOO_MANY_BYTES,
    unmet_password_rules,
    validate_password,
)


@pytest.mark.parametrize(
    ("password", "unmet"),
    [
        ("", ("No password provided.",)),
        ("        ", ("No password provided.",)),
        ("short", ("Passwords must be at least eight characters.",)),
        ("1234567", ("Passwords must be at least eight characters.",)),
        ("12345678", ()),
        ("x" * MAX_PASSWORD_LENGTH, ()),
        ("x" * (MAX_PASSWORD_LENGTH + 1), (TOO_LONG,)),
        ("€" * 200, (TOO_MANY_BYTES,)),
    ],
)
def test_unmet_rules_are_what_validate_password_refuses_with(
    password: str, unmet: tuple[str, ...]
) -> None:
    assert unmet_password_rules(password) == unmet
    if unmet:
        with pytest.raises(ValidationError) as exc:
            validate_password(password)
        assert (exc.value.message, exc.value.field) == (unmet[0], "password")
    else:
        validate_password(password)
