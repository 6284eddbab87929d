"""The HTTP face: API, OTLP receiver, web pages and metrics. Thin: it calls the rooms."""

from .app import create_app

__all__ = ["create_app"]
