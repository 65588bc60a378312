"""The three ways an export stops: the whole run (ConfigError), one model skipped (Skip) or one
model failed (ModelError). The CLI turns them into exit codes: 2, 0 and 1."""

from __future__ import annotations


class ConfigError(Exception):
    """models.yaml is wrong: the whole run stops (exit code 2)."""


class Skip(Exception):
    """The model's inputs cannot be had here (offline, a package absent): reported, run goes on."""


class ModelError(Exception):
    """The model failed for another reason: reported, run goes on, exit code 1."""
