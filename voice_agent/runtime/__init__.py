"""The worker's process-wide resources: model files assembled from their packages, the
embedded LLM and Piper sidecars it supervises, and the container every call draws on."""
