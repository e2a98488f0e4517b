"""Names that come from labels or a VLM become file names and XML names only through here."""

from __future__ import annotations

import re

_MAX = 40


def sanitize(label: str, fallback: str = "object") -> str:
    """A safe identifier: lowercase ASCII letters, digits and underscores, starting with a
    letter, at most 40 characters. ``sanitize("Coffee Mug #2!") == "coffee_mug_2"``."""
    text = str(label).strip().lower()
    text = re.sub(r"[^a-z0-9]+", "_", text.encode("ascii", "ignore").decode("ascii"))
    text = text.strip("_")[:_MAX].strip("_")
    if not text:
        return fallback
    if not text[0].isalpha():
        text = f"{fallback}_{text}"[:_MAX]
    return text


def unique(names: list[str]) -> list[str]:
    """Make names unique by appending _2, _3, ... in order."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            seen[candidate] = 1
            out.append(candidate)
        else:
            seen[name] = 1
            out.append(name)
    return out
