"""Real artist meshes and photographs from Debian packages (the real-data build)."""
