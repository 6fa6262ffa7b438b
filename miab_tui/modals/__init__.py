"""Forms and dialogs, each a ModalScreen dismissed with its result."""
