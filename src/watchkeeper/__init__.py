"""Watchkeeper: self-hosted monitoring for LLM applications and agents in production."""

__version__ = "0.1.0"

__all__ = ["__version__"]
