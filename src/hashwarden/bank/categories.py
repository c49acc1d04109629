"""hashwarden's category scheme and its mapping to Project VIC numbers and UK CAID letters.

Our names keep the finest distinction either source makes: UK grades A/B/C are kept as
`csam-a/b/c`; a Project VIC "1" (child abuse material, no grade) becomes `csam`. Mapping back
to Project VIC loses the grade; mapping `csam` to UK has no letter (returns None). The mapping is
hashwarden's own (no public official one exists) and callers may override it.

Severity orders categories for consensus: the most severe confirmed category wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashwarden.errors import UsageError

__all__ = [
    "CATEGORIES",
    "Category",
    "category_names",
    "most_severe",
    "parse_category",
    "to_project_vic",
    "to_uk",
]


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    severity: int
    project_vic: int | None
    uk: str | None
    known_bad: bool


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("csam-a", "Child sexual abuse, UK category A (most severe)", 90, 1, "A", True),
        Category("csam-b", "Child sexual abuse, UK category B", 80, 1, "B", True),
        Category("csam-c", "Child sexual abuse, UK category C", 70, 1, "C", True),
        Category("csam", "Child sexual abuse material, grade not given", 75, 1, None, True),
        Category(
            "exploitive", "Child exploitive, not abuse material (age difficult)", 50, 2, None, True
        ),
        Category("cgi", "Computer-generated or animated depiction", 40, 3, None, True),
        Category("comparison", "Comparison image (not abuse material)", 20, 4, None, False),
        Category("non-pertinent", "Non-pertinent", 10, 0, None, False),
        Category("uncategorised", "Not yet categorised", 0, None, None, True),
    )
}

#: Project VIC (US profile) numbers to our names. The older scheme that numbered
#: non-pertinent 5 and used 0 for "uncategorised" is `PROJECT_VIC_LEGACY`.
PROJECT_VIC: dict[int, str] = {
    0: "non-pertinent",
    1: "csam",
    2: "exploitive",
    3: "cgi",
    4: "comparison",
}
PROJECT_VIC_LEGACY: dict[int, str] = {
    0: "uncategorised",
    1: "csam",
    2: "exploitive",
    3: "cgi",
    4: "comparison",
    5: "non-pertinent",
}
UK: dict[str, str] = {"A": "csam-a", "B": "csam-b", "C": "csam-c"}


def category_names() -> list[str]:
    return list(CATEGORIES)


def parse_category(text: str, *, legacy_vic: bool = False) -> str:
    """Our category name for one of ours, a Project VIC number or a UK letter."""
    value = text.strip()
    lowered = value.lower()
    if lowered in CATEGORIES:
        return lowered
    if value.upper() in UK:
        return UK[value.upper()]
    scheme = PROJECT_VIC_LEGACY if legacy_vic else PROJECT_VIC
    if value.isdigit() and int(value) in scheme:
        return scheme[int(value)]
    raise UsageError(
        f"unknown category {text!r}: use one of {', '.join(CATEGORIES)}, "
        f"a Project VIC number ({', '.join(str(k) for k in scheme)}) or a UK letter (A, B, C)"
    )


def to_project_vic(name: str) -> int | None:
    return CATEGORIES[name].project_vic


def to_uk(name: str) -> str | None:
    return CATEGORIES[name].uk


def most_severe(names: list[str]) -> str:
    """The consensus category: the most severe of those given."""
    if not names:
        return "uncategorised"
    return max(names, key=lambda n: CATEGORIES[n].severity)
