"""Errors that arst reports to users: each names the file, key or value at fault."""


class ArstError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


class ConfigError(ArstError):
    """A recipe or config value is missing or invalid."""


class DataError(ArstError):
    """An input file or folder is missing, empty or unreadable."""


class FetchError(ArstError):
    """A download failed or its bytes did not verify."""


class TrainingDiverged(ArstError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class MissingDependency(ArstError):
    """An optional package a verb needs is not installed; the message says how to install it."""
