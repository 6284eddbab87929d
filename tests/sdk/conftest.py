"""Fixtures for SDK tests: an in-memory capture, and a real scripted ingest server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from watchkeeper import sdk

from .wk_sdk_helpers import IngestServer


@pytest.fixture
def capture() -> Iterator[sdk.CaptureExporter]:
    """Records go to memory for the test; afterwards the SDK is disabled so nothing reaches the network."""
    exporter = sdk.CaptureExporter()
    sdk.configure(exporter=exporter, service_name="test-service")
    yield exporter
    sdk.configure(enabled=False)


@pytest.fixture
def ingest() -> Iterator[IngestServer]:
    server = IngestServer()
    yield server
    sdk.configure(enabled=False)
    server.close()
