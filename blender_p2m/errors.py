"""The one exception type users see: a message that names the problem and what to do."""


class P2MError(Exception):
    """A problem with the user's input or environment, explained in plain words.

    Anything raised as P2MError is shown to the user as is (panel, report, batch summary,
    command line); anything else is a bug.
    """
