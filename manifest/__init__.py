"""The Teams app package: the manifest template, the icons, and its builder (`python -m manifest.build`)."""
