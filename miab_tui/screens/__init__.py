"""One screen module per area (each a Textual mode of the app)."""
