"""Mail users, aliases and domains on the box's users.sqlite."""
