"""Parsers for real scanner, SBOM and VEX files, sniffed from content."""
