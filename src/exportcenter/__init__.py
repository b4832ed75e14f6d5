"""ExportCenter: turns container-security data into the documents people act on."""

__version__ = "0.1.0"
