"""Where export data comes from: the built-in store (local) or the upstream StellaOps services (http)."""
