"""The harness's error-message rule: every error a user sees is one line.

``HarnessError`` is the base of every error the harness raises on purpose (a bad input, a
missing file, a refused folder): a caller that must tell them from bugs catches this one
class. Each module's error keeps its builtin base too (ValueError, RuntimeError), so code
that caught those before still does. (harness/scoring/comet_runner.py runs in the COMET environment,
which has no harness package: its RunnerError stands alone.)
"""


class HarnessError(Exception):
    """An error the harness reports to its user, in one line."""


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
