"""Upstream StellaOps services over HTTP (scanner, policy engine, VEXLens, SBOM service).

Each module fetches one endpoint and maps its JSON (docs/upstream-api.md) into the neutral model,
reusing the file parsers of ``sources.local`` for the embedded scanner/SBOM/VEX documents."""
