"""Serving: the OpenAI-compatible API, the batching Hugging Face engine, SGLang and vLLM launchers."""
