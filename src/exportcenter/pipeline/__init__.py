"""One pipeline for every entry point: gather -> render -> store -> seal -> deliver."""
