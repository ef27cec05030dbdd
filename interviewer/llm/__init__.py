"""The model client for any OpenAI-compatible endpoint (client) and the versioned prompt files it
sends (prompts, prompts/*.md: package data)."""
