"""The REST API (FastAPI): exports, scans, events, signed downloads."""
