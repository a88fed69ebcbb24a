"""The facade and the edges: `Lab` (the notebook's handle), the learner API, `doctor` and the CLI."""
