"""Rendering JSON bodies: an element at a time, byte for byte what one json.dumps call gives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from api_server.responses import render_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_render_json_is_the_reference_format(data: object) -> None:
    # Strings with newlines, quotes and non-ASCII included: the per-element path must give
    # exactly the 2-space-indented, key-sorted body of one call.
    assert render_json(data) == json.dumps(data, indent=2, sort_keys=True) + "\n"
