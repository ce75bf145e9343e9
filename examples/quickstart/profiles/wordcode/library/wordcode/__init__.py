"""wordcode: small, stable codes for words and text files.

Nobody knows these numbers by heart: an agent has to run the library to get them.
"""

from pathlib import Path


def score(word: str) -> int:
    """Letters weighted by their position (a=1 … z=26, times 1, 2, 3 …), modulo 997."""
    letters = [c for c in word.lower() if c.isalpha()]
    return sum((i + 1) * (ord(c) - 96) for i, c in enumerate(letters)) % 997


def encode(text: str) -> str:
    """Shift each letter of each word forward by its position in the word (1, 2, 3 …)."""
    def shift(word: str) -> str:
        return "".join(chr((ord(c) - 97 + i + 1) % 26 + 97) if c.isalpha() else c for i, c in enumerate(word.lower()))
    return " ".join(shift(word) for word in text.split())


def words(path: str | Path) -> list[str]:
    return Path(path).read_text().split()


def checksum(path: str | Path) -> str:
    """Four hex digits: the sum of the scores of every word in the file, modulo 65536."""
    return f"{sum(score(w) for w in words(path)) % 65536:04x}"


def best(path: str | Path) -> str:
    """The word of the file with the highest score (the first one on a tie)."""
    return max(words(path), key=score)
