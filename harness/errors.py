"""The harness's error-message rule: every error a user sees is one line."""


def one_line(text: object) -> str:
    """Collapse any whitespace (library messages often span lines) into single spaces."""
    return " ".join(str(text).split())


def read_input_bytes(path) -> bytes:
    """A user's input file's bytes; an OSError becomes a one-line ValueError naming the file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a file") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
