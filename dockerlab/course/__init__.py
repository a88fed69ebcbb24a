"""Exercises, checks and their verdicts, feedback, grading and student versions."""
