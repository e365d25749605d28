"""Renderers: terminal, markdown, HTML and JSON. They draw; they never diagnose."""
