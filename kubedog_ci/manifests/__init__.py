"""Reading manifests: files and stdin to objects that remember their file and line."""
