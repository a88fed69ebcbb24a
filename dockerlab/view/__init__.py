"""Graphviz diagrams, widgets and quiz views: they render models and never call the engine."""
