"""The `exportcenter` command line."""
