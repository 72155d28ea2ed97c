"""Presenting results: lint reporters (`report.lint`), approval paths, trees, JUnit."""
