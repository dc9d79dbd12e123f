"""Helpers shared by the tests: local clusters, subprocess environments, cluster CLI calls."""
