"""The engine's named errors.

Every error a user can cause (bad arguments, a broken checkpoint, an unreadable image folder) is an
``EngineError`` whose message is one clear line; the CLI prints it and exits with code 2, the app
shows it on the page. Anything else is a bug and keeps its traceback.
"""


class EngineError(Exception):
    """A problem the user can fix; ``str(err)`` is a one-line explanation."""


class CapabilityError(EngineError, NotImplementedError):
    """The model kind does not offer this operation (check ``model.capabilities`` first)."""


class CheckpointError(EngineError):
    """A checkpoint folder is missing, incomplete, tampered with or from a newer format."""


class DataError(EngineError):
    """A dataset name, folder or image cannot be used."""
