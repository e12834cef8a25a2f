"""Bytes to events: HTTP transport and the SSE decoder. Knows nothing about LLMs."""
