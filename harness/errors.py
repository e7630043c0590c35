"""The harness's error-message rule: every error a user sees is one line."""


def one_line(text: object) -> str:
    """Collapse any whitespace (library messages often span lines) into single spaces."""
    return " ".join(str(text).split())
