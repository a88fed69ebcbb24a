"""dockerlab: learn what an image and a container are, against a real Docker engine."""
from .errors import DockerlabError
from .lab import Lab, connect
from .practice import check, exercise, hint, quiz, solution

__all__ = ["DockerlabError", "Lab", "connect", "check", "exercise", "hint", "quiz", "solution"]
