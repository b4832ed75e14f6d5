"""The built-in store of ingested documents, scans and the audit log (the embedded data source)."""
