"""One error type for every user-facing failure.

The CLI prints ``error: <message>`` on one line and exits with status 2, so messages must name the
problem precisely: the file, the field, the offending value and the allowed values.
"""


class ReasonlabError(Exception):
    """A user-facing error whose message is a single line naming the problem."""
