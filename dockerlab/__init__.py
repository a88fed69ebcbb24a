"""dockerlab: learn Docker images and containers for real, in JupyterLab, against a real engine."""
from .app.doctor import report as doctor
from .app.lab import Lab, connect
from .app.practice import check, exercise, hint, quiz, solution
from .errors import DockerlabError
from .model.references import expand_reference

__all__ = ["DockerlabError", "Lab", "check", "connect", "doctor", "exercise", "expand_reference", "hint", "quiz",
           "solution"]
