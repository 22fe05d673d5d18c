"""Categories and project settings at the engine, on both stores: which memories get categories and from which list,
that the caller's win, what a text update does to them, what the LLM extractor is told and may name, and every check
a settings change passes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from memvault.embed.onnx_minilm import MiniLMEmbedder
from memvault.engine import DEFAULT_CATEGORIES, Engine, Owners
from memvault.engine.categories import MISC
from memvault.errors import InvalidInput, NotFound
from memvault.extract.base import Message
from memvault.extract.llm import LLMExtractor
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.testing.category_set import HOLDOUT, LABELLED
from memvault.testing.openai_server import FakeOpenAIServer

DEFAULT_NAMES = {name for name, _ in DEFAULT_CATEGORIES}
UNKNOWN_PROJECT = "00000000-0000-4000-8000-00000000abcd"


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def meaning(store: Store, minilm: MiniLMEmbedder) -> Engine:
    """An engine with the bundled embedder, whose cosines the category limits were chosen for."""
    return Engine(store, minilm, OfflineExtractor())


def added(engine: Engine, project: str, *texts: str, **options: Any) -> list[Any]:
    return [r.memory for r in engine.add(project, [Message("user", t) for t in texts], Owners(user_id="dana"),
                                          **options)]


def micro(labelled: Any, got: list[list[str]]) -> tuple[float, float]:
    tp = sum(len(expected & set(chosen)) for (_, expected), chosen in zip(labelled, got, strict=True))
    return tp / sum(len(c) for c in got), tp / sum(len(e) for _, e in labelled)


# which categories --------------------------------------------------------------------------------------------------
def test_the_labelled_set_gets_its_categories_with_the_measured_precision_and_recall(meaning: Engine) -> None:
    for part, floor in ((LABELLED, 0.78), (HOLDOUT, 0.78)):  # measured (bench/categories.py): 0.80 / 0.82, 0.83 / 0.81
        by_text = {m.text: m.categories for m in added(meaning, meaning.project(f"p{len(part)}").id,
                                                        *(t for t, _ in part))}
        precision, recall = micro(part, [by_text[t] for t, _ in part])
        assert precision >= floor and recall >= floor, (precision, recall)


def test_every_memory_gets_one_to_three_default_categories_and_misc_only_alone(meaning: Engine) -> None:
    project = meaning.project("defaults").id
    memories = added(meaning, project, "I play tennis every Saturday morning", "The parcel should arrive on Tuesday",
                     "I'm allergic to peanuts", infer=True)
    by_text = {m.text: m.categories for m in memories}
    assert all(1 <= len(c) <= 3 and set(c) <= DEFAULT_NAMES for c in by_text.values())
    assert all(MISC not in c or c == [MISC] for c in by_text.values())
    assert by_text["I play tennis every Saturday morning"][0] == "sports"
    assert by_text["The parcel should arrive on Tuesday"] == [MISC]
    assert "health" in by_text["I'm allergic to peanuts"]
    assert all(meaning.get(project, m.id).categories == m.categories for m in memories)  # as stored


def test_categories_the_caller_gives_win_with_or_without_inference(engine: Engine, project: str) -> None:
    plain = added(engine, project, "I play tennis", categories=["mine"])
    inferred = added(engine, project, "I love jazz and I live in Lyon.", infer=True, categories=["given", "two"])
    assert [m.categories for m in plain] == [["mine"]]
    assert inferred and all(m.categories == ["given", "two"] for m in inferred)
    assert not any(engine.get(project, m.id).categories_auto for m in plain + inferred)


def test_custom_categories_replace_the_defaults_at_once_and_misc_is_theirs_to_have(meaning: Engine) -> None:
    project = meaning.project("custom").id
    [before] = added(meaning, project, "My dog Biscuit is a beagle")
    assert set(before.categories) <= DEFAULT_NAMES
    meaning.update_project_settings(project, custom_categories=[
        {"pets": "Pets and animals: dogs, cats, vets, walks"}, {"work": "My job, my employer and my colleagues"}])
    dog, parcel = added(meaning, project, "My cat Miso sleeps all day", "The parcel should arrive on Tuesday")
    assert dog.categories == ["pets"]
    assert parcel.categories == []  # nothing fits, and this list has no misc
    meaning.update_project_settings(project, custom_categories=[])  # back to the defaults
    [again] = added(meaning, project, "I'm flying to Tokyo in April")
    assert "travel" in again.categories
    assert meaning.get(project, before.id).categories == before.categories  # a new list leaves stored memories as they are


def test_categories_stay_inside_their_project(meaning: Engine) -> None:
    mine, theirs = meaning.project("mine").id, meaning.project("theirs").id
    meaning.update_project_settings(mine, custom_categories=[{"pets": "Pets and animals: dogs, cats"}])
    [m] = added(meaning, theirs, "My cat Miso sleeps all day")
    assert set(m.categories) <= DEFAULT_NAMES and "pets" not in m.categories


# a text update ----------------------------------------------------------------------------------------------------
def test_a_text_update_chooses_again_only_the_categories_memvault_chose(meaning: Engine) -> None:
    project = meaning.project("updates").id
    [auto] = added(meaning, project, "I play tennis every Saturday morning")
    [given] = added(meaning, project, "I play tennis on Sundays", categories=["weekend"])
    assert auto.categories[0] == "sports" and meaning.get(project, auto.id).categories_auto
    changed = meaning.update(project, auto.id, text="I'm flying to Tokyo in April")
    assert "travel" in changed.categories and "sports" not in changed.categories and changed.categories_auto
    kept = meaning.update(project, given.id, text="I'm flying to Tokyo in April")
    assert kept.categories == ["weekend"] and not kept.categories_auto
    set_now = meaning.update(project, auto.id, text="My phone is a Pixel 8", categories=["gadgets"])
    assert set_now.categories == ["gadgets"] and not set_now.categories_auto
    after = meaning.update(project, auto.id, text="I'm vegetarian")
    assert after.categories == ["gadgets"]  # the caller set them: a later text update leaves them
    only_metadata = meaning.update(project, given.id, metadata={"k": 1})
    assert only_metadata.categories == ["weekend"]


# the LLM extractor ------------------------------------------------------------------------------------------------
@pytest.fixture
def llm_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def test_the_llm_extractor_is_told_the_projects_instructions_and_categories_and_its_names_are_kept(
        store: Store, minilm: MiniLMEmbedder, llm_server: FakeOpenAIServer) -> None:
    engine = Engine(store, minilm, LLMExtractor(llm_server.base_url, "fake", timeout=5))
    project = engine.project("llm").id
    engine.update_project_settings(project, custom_categories=[{"pets": "Animals I own"}, {"home": "Where I live"},
                                                               {"misc": "Anything else"}],
                                   custom_instructions="Remember pets above all.",
                                   agent_custom_instructions="Remember the agent's tools.")
    llm_server.chat_handler = lambda request: (
        '{"facts": [{"fact": "I adopted a cat named Miso", "categories": ["Pets", "food", "nonsense", "misc"]},'
        ' {"fact": "I live in Lyon", "categories": "not-a-category"}, "I moved last spring"]}')
    memories = {m.text: m.categories for m in added(engine, project, "I adopted a cat. I live in Lyon.", infer=True)}
    assert memories["I adopted a cat named Miso"] == ["pets"]  # named by the model, in the project's spelling
    assert memories["I live in Lyon"] and set(memories["I live in Lyon"]) <= {"pets", "home", "misc"}  # chosen offline
    assert memories["I moved last spring"] and set(memories["I moved last spring"]) <= {"pets", "home", "misc"}
    system = llm_server.requests[-1].body["messages"][0]["content"]
    assert "Remember pets above all." in system and "- pets: Animals I own" in system and "- home: Where I live" in system
    assert "food" not in system.split("Categories:")[1].split("\n\n")[0]  # the defaults are replaced
    assert "agent's tools" not in system
    engine.add(project, [Message("user", "I use a hammer.")], Owners(agent_id="helper"), infer=True)
    assert "Remember the agent's tools." in llm_server.requests[-1].body["messages"][0]["content"]


# project settings -------------------------------------------------------------------------------------------------
def test_project_settings_round_trip_and_clear(engine: Engine, project: str) -> None:
    fresh = engine.project_settings(project)
    assert (fresh.name, fresh.custom_categories, fresh.custom_instructions) == ("test", None, None)
    assert engine.project_categories(project) == DEFAULT_CATEGORIES
    done = engine.update_project_settings(project, name="  My app ", custom_instructions=" Be brief ",
                                          custom_categories=[{" pets ": " Animals "},
                                                             {"name": "work", "description": "My job"}])
    assert (done.name, done.custom_instructions, done.custom_categories) == (
        "My app", "Be brief", (("pets", "Animals"), ("work", "My job")))
    assert engine.project_settings(project) == done
    assert engine.project("test").id == project  # a display name: the project keeps the name keys and the CLI use
    cleared = engine.update_project_settings(project, name=None, custom_instructions="", custom_categories=None)
    assert (cleared.name, cleared.custom_instructions, cleared.custom_categories) == ("test", None, None)


@pytest.mark.parametrize(("changes", "message"), [
    ({}, "nothing to update"),
    ({"custom_categories": "food"}, "must be a list"),
    ({"custom_categories": {"food": "Food"}}, "must be a list"),
    ({"custom_categories": ["food"]}, "one {name: description} object"),
    ({"custom_categories": [{"a": "x", "b": "y"}]}, "one {name: description} object"),
    ({"custom_categories": [{}]}, "one {name: description} object"),
    ({"custom_categories": [{"food": 3}]}, "must be a string"),
    ({"custom_categories": [{"food": None}]}, "must be a string"),
    ({"custom_categories": [{"  ": "blank"}]}, "must not be empty"),
    ({"custom_categories": [{"a\x00b": "nul"}]}, "NUL"),
    ({"custom_categories": [{"a\nb": "control"}]}, "control characters"),
    ({"custom_categories": [{"c" * 101: "long"}]}, "longer than 100"),
    ({"custom_categories": [{"food": "d" * 1001}]}, "longer than 1000"),
    ({"custom_categories": [{"Food": "a"}, {"food": "b"}]}, "more than once"),
    ({"custom_categories": [{f"c{i}": "x"} for i in range(51)]}, "at most 50"),
    ({"custom_instructions": 5}, "must be a string"),
    ({"custom_instructions": "x" * 20_001}, "longer than 20000"),
    ({"agent_custom_instructions": ["x"]}, "must be a string"),
    ({"name": ""}, "must not be empty"),
    ({"name": 7}, "must be a string"),
    ({"name": "a\u200bb"}, "invisible"),
])
def test_every_bad_settings_change_is_refused_and_changes_nothing(engine: Engine, project: str,
                                                                    changes: dict[str, Any], message: str) -> None:
    engine.update_project_settings(project, custom_instructions="kept")
    before = engine.project_settings(project)
    with pytest.raises(InvalidInput, match=message.replace("{", r"\{").replace("}", r"\}")):
        engine.update_project_settings(project, **changes)
    assert engine.project_settings(project) == before


def test_fifty_custom_categories_are_accepted(engine: Engine, project: str) -> None:
    done = engine.update_project_settings(project, custom_categories=[{f"c{i}": f"about {i}"} for i in range(50)])
    assert done.custom_categories is not None and len(done.custom_categories) == 50


def test_settings_of_an_unknown_project_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.project_settings(UNKNOWN_PROJECT)
    with pytest.raises(NotFound):
        engine.update_project_settings(UNKNOWN_PROJECT, custom_instructions="x")
