"""Categories and project settings: what a project tells memvault about itself, and how memories are sorted.

Every memory added without categories gets at most three (`Categories._categorize`), from the project's list: its
`custom_categories` when set, else Mem0's fifteen defaults (`DEFAULT_CATEGORIES`). The names the LLM extractor
tagged a fact with come first (names outside the list are dropped); otherwise the choice is offline, by meaning:

* each category is embedded as a few phrases taken from its description (the whole description, the name, and the
  parts of the list after its colon: "running, gym workouts, matches" gives three), once per list and embedder, and
  kept (`_PHRASES_CACHE`: a changed list is another key, so changing `custom_categories` is seen at once);
* a memory's score for a category is the best cosine between its vector and that category's phrases;
* it gets the best categories scoring at least `Limits.category_threshold` (0.25) and within
  `Limits.category_margin` (0.08) of its best one, at most `Limits.max_auto_categories` (3);
* `misc` is never scored: a memory gets it when nothing else passes (and the list has a `misc`).

The threshold and margin were chosen on half of a labelled set of 61 memories (memvault/testing/category_set.py)
with the bundled MiniLM embedder and checked on the other half; `python bench/categories.py` measures them. They
sit on a plateau (0.22-0.30, 0.04-0.10 all give F1 0.76-0.81). Another embedder has other cosines: set the limits.

Categories given by the caller always win. A memory whose categories memvault chose (`Memory.categories_auto`) gets
them chosen again when an update changes its text without giving categories; categories the caller gave are never
replaced by a text update.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import validate as V
from ..embed.base import Embedder, Vectors
from ..errors import InvalidInput, NotFound
from ..extract.base import Guidance, GuidedExtractor, Message
from ..models import Memory, Owners, ProjectSettings, utcnow
from ..store.base import SETTINGS_FIELDS, SettingsChange
from .core import EngineCore

MISC = "misc"
DEFAULT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("personal_details", "Personal details about me: my name, my age, my birthday, where I live and grew up, "
                         "my nationality and the languages I speak."),
    ("family", "My family and the people close to me: parents, children, siblings, husband, wife, partner, "
               "relatives and pets."),
    ("professional_details", "My work and career: my job, employer, company, colleagues, manager, business, "
                             "clients, studies and degrees."),
    ("sports", "Sports and fitness: sports I play or watch, teams I support, running, gym workouts, matches and "
               "races."),
    ("travel", "Travel: trips, holidays and vacations, flights, hotels, countries and cities I visited or plan to "
               "visit."),
    ("food", "Food and drink: what I eat and drink, dishes and cuisines I like, diets such as vegetarian, cooking, "
             "restaurants, coffee."),
    ("music", "Music: songs, bands, singers, genres, concerts, playlists and the instruments I play."),
    ("health", "Health and wellbeing: illnesses, allergies, medication, doctors, injuries, sleep, therapy and "
               "medical conditions."),
    ("technology", "Technology: computers, phones, software, programming, apps, gadgets and the devices I use."),
    ("hobbies", "Hobbies and pastimes: what I do for fun in my free time, such as gardening, painting, crafts, "
                "photography or collecting."),
    ("fashion", "Fashion and style: clothes, shoes, brands, outfits, accessories and how I like to dress."),
    ("entertainment", "Entertainment: movies, TV shows and series, books, video games, podcasts and actors."),
    ("milestones", "Milestones and life events: graduations, weddings, births, buying a house, retirement, "
                   "anniversaries and achievements."),
    ("user_preferences", "My preferences about how the assistant should talk to me: language, tone, answer length "
                         "and format, what I like and dislike."),
    (MISC, "Anything that fits no other category."),
)
MAX_CUSTOM_CATEGORIES = 50
MAX_CATEGORY_DESCRIPTION_CHARS = 1000
MAX_INSTRUCTIONS_CHARS = 20_000
MAX_PROJECT_DISPLAY_NAME_CHARS = 200
_MAX_PHRASES = 16  # per category
_SPLIT = re.compile(r",|;|\bsuch as\b|\band\b|\bor\b|\be\.g\.", re.IGNORECASE)
KEEP: Any = object()
"""`update_project_settings`: the field stays as it is (None clears it)."""


class _Phrases:
    """A category list embedded: every scored category's phrase vectors, stacked, and which row is whose."""

    def __init__(self, categories: Sequence[tuple[str, str]], embedder: Embedder) -> None:
        self.names = [n for n, _ in categories if n != MISC]
        self.fallback = MISC if any(n == MISC for n, _ in categories) else None
        owners: list[int] = []
        texts: list[str] = []
        for i, (name, description) in enumerate((n, d) for n, d in categories if n != MISC):
            found = phrases(name, description)
            texts += found
            owners += [i] * len(found)
        self.owner = np.asarray(owners, dtype=np.int64)
        self.vectors: Vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)

    def choose(self, vector: Vectors, threshold: float, margin: float, most: int) -> list[str]:
        if not self.names:
            return [self.fallback] if self.fallback else []
        scores = np.full(len(self.names), -1.0)
        np.maximum.at(scores, self.owner, self.vectors @ vector)
        order = np.argsort(-scores, kind="stable")
        best = scores[order[0]]
        chosen = [self.names[i] for i in order[:most] if scores[i] >= threshold and scores[i] >= best - margin]
        return chosen or ([self.fallback] if self.fallback else [])


def phrases(name: str, description: str) -> list[str]:
    """What a category is embedded as: its description, its name in words, and the items its description lists."""
    out = [description.strip(), name.replace("_", " ").strip()]
    head, colon, rest = description.partition(":")
    out += [p.strip(" .") for p in _SPLIT.split(rest if colon else description)]
    return list(dict.fromkeys(p for p in out if len(p) >= 3))[:_MAX_PHRASES]


_PHRASES_CACHE: OrderedDict[tuple[str, int, tuple[tuple[str, str], ...]], _Phrases] = OrderedDict()
_CACHE_SIZE = 64
_cache_lock = threading.Lock()


def _embedded(embedder: Embedder, categories: tuple[tuple[str, str], ...]) -> _Phrases:
    key = (embedder.name, embedder.dim, categories)
    with _cache_lock:
        found = _PHRASES_CACHE.get(key)
        if found is not None:
            _PHRASES_CACHE.move_to_end(key)
            return found
    made = _Phrases(categories, embedder)  # outside the lock: two first calls may both embed, one is kept
    with _cache_lock:
        _PHRASES_CACHE[key] = made
        while len(_PHRASES_CACHE) > _CACHE_SIZE:
            _PHRASES_CACHE.popitem(last=False)
    return made


def _category_key(name: str) -> str:
    return "_".join(name.casefold().split())


class Categories(EngineCore):
    # project settings --------------------------------------------------------------------------------------
    def project_settings(self, project_id: str) -> ProjectSettings:
        """The project's settings, its defaults when never changed (what the LLM extractor and decider follow)."""
        found = self.store.project_settings(project_id)
        if found is None:
            raise NotFound("project not found")
        return found

    def update_project_settings(self, project_id: str, *, name: Any = KEEP, custom_categories: Any = KEEP,
                                custom_instructions: Any = KEEP, agent_custom_instructions: Any = KEEP) -> ProjectSettings:
        """Change the fields given, each checked; None (or an empty value) sets one back to its default: the
        project's own name, the default categories, no instructions. Nothing given is InvalidInput."""
        given = {"name": name, "custom_categories": custom_categories, "custom_instructions": custom_instructions,
                 "agent_custom_instructions": agent_custom_instructions}
        given = {k: v for k, v in given.items() if v is not KEEP}
        if not given:
            raise InvalidInput(f"nothing to update: give one of {', '.join(SETTINGS_FIELDS)}")
        values: dict[str, Any] = {}
        if "name" in given and given["name"] is not None:
            values["name"] = V.name(given["name"], "name", MAX_PROJECT_DISPLAY_NAME_CHARS)
        if "custom_categories" in given:
            values["custom_categories"] = check_custom_categories(given["custom_categories"])
        for field in ("custom_instructions", "agent_custom_instructions"):
            if field in given and given[field] is not None:
                values[field] = V.string(given[field], field, MAX_INSTRUCTIONS_CHARS).strip() or None
        clear = frozenset(k for k in given if values.get(k) is None)
        change = SettingsChange(utcnow(), clear=clear, **{k: v for k, v in values.items() if v is not None})
        done = self.store.update_project_settings(project_id, change)
        if done is None:
            raise NotFound("project not found")
        return done

    def project_categories(self, project_id: str) -> tuple[tuple[str, str], ...]:
        """The categories the project's memories are sorted into: its custom ones, else the defaults."""
        return self.project_settings(project_id).custom_categories or DEFAULT_CATEGORIES

    # categorizing -------------------------------------------------------------------------------------------
    def _extract(self, project_id: str, messages: Sequence[Message],
                 owners: Owners) -> tuple[list[str], dict[str, list[str]]]:
        """The facts of a conversation and, for each, the categories the extractor named (an extractor that takes
        guidance gets the project's instructions and categories; names outside the project's list are dropped)."""
        if not isinstance(self.extractor, GuidedExtractor):
            return list(self.extractor.extract(list(messages))), {}
        settings = self.project_settings(project_id)
        categories = settings.custom_categories or DEFAULT_CATEGORIES
        agent_only = owners.agent_id is not None and owners.user_id is None
        instructions = (settings.agent_custom_instructions if agent_only else None) or settings.custom_instructions
        facts = self.extractor.extract_guided(list(messages), Guidance(instructions, categories))
        known = {_category_key(n): n for n, _ in categories}
        named: dict[str, list[str]] = {}
        for fact in facts:
            chosen = [known[k] for k in dict.fromkeys(_category_key(c) for c in fact.categories) if k in known]
            if len(chosen) > 1:  # misc only when nothing else fits, whoever chooses
                chosen = [c for c in chosen if c != MISC]
            if chosen:
                named[fact.text.strip()] = chosen[: self.limits.max_auto_categories]
        return [f.text for f in facts], named

    def _categorize(self, project_id: str, memories: Sequence[Memory], vectors: Vectors,
                    named: Mapping[str, Sequence[str]] | None = None) -> None:
        """Give each memory without categories at most three (see the module docstring), in place: the ones the
        extractor named for its text when there are any, else the nearest by meaning. `vectors` are the memories'
        own, in order. Marks them `categories_auto`."""
        todo = [i for i, m in enumerate(memories) if not m.categories]
        if not todo:
            return
        embedded = _embedded(self.embedder, self.project_categories(project_id))
        for i in todo:
            memory = memories[i]
            memory.categories = list((named or {}).get(memory.text, ())) or embedded.choose(
                vectors[i], self.limits.category_threshold, self.limits.category_margin,
                self.limits.max_auto_categories)
            memory.categories_auto = True

    def _recategorize(self, project_id: str, memory: Memory, vector: Vectors) -> list[str]:
        """The categories memvault chooses for a memory's new text, `vector` (see `_categorize`)."""
        embedded = _embedded(self.embedder, self.project_categories(project_id))
        return embedded.choose(vector, self.limits.category_threshold, self.limits.category_margin,
                               self.limits.max_auto_categories)


def check_custom_categories(value: Any) -> tuple[tuple[str, str], ...] | None:
    """A project's categories as Mem0 takes them: a list of `{name: description}` objects (`{"name": ...,
    "description": ...}` is read the same way), at most MAX_CUSTOM_CATEGORIES, names distinct. None or an empty
    list: the defaults (returned as None)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidInput("custom_categories must be a list of {name: description} objects")
    if len(value) > MAX_CUSTOM_CATEGORIES:
        raise InvalidInput(f"custom_categories: at most {MAX_CUSTOM_CATEGORIES} categories, got {len(value)}")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in value:
        if isinstance(entry, dict) and set(entry) == {"name", "description"}:
            entry = {entry["name"]: entry["description"]}
        if not isinstance(entry, dict) or len(entry) != 1:
            got = f"an object of {len(entry)} keys" if isinstance(entry, dict) else f"a value of type {type(entry).__name__}"
            raise InvalidInput(f"custom_categories: each entry must be one {{name: description}} object, got {got}")
        ((name, description),) = entry.items()
        if not isinstance(name, str):
            raise InvalidInput("custom_categories: a category name must be a string")
        name = V.identifier(name, "a category name", V.MAX_CATEGORY_CHARS).strip()
        if not name:
            raise InvalidInput("custom_categories: a category name must not be empty")
        if not isinstance(description, str):
            raise InvalidInput(f"custom_categories: the description of {V.shown(name)} must be a string")
        description = V.string(description, "a category description", MAX_CATEGORY_DESCRIPTION_CHARS).strip()
        if _category_key(name) in seen:
            raise InvalidInput(f"custom_categories: {V.shown(name)} appears more than once")
        seen.add(_category_key(name))
        out.append((name, description))
    return tuple(out) or None
