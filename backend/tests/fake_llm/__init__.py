"""A fake OpenAI/Anthropic-compatible LLM server for tests and benchmarks (see server.py)."""
