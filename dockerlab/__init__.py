"""dockerlab: learn what an image and a container are, against a real Docker engine."""
from .errors import DockerlabError
from .lab import Lab, connect

__all__ = ["DockerlabError", "Lab", "connect"]
