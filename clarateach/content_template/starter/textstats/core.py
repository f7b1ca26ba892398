"""Word counts, frequent words and URL slugs."""

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9']+")


def words(text):
    """The words of ``text``, lower-cased, punctuation dropped."""
    return _WORD.findall(text.lower())


def word_count(text):
    """How many words ``text`` has."""
    return len(words(text))


def top_words(text, n=3):
    """The ``n`` most frequent words with their counts; ties in order of first appearance."""
    return Counter(words(text)).most_common(n)


def slugify(title):
    """A URL slug: lower case, words joined by single dashes, nothing else."""
    slug = re.sub(r"[^a-z0-9]", "-", title.lower())
    return slug.strip("-")
