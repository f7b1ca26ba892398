"""Small text utilities."""

from textstats.core import slugify, top_words, word_count

__all__ = ["slugify", "top_words", "word_count"]
