"""Graders: offline (embeddings + keyword coverage) and LLM (rubric prompt, structured output)."""
