"""The offline extractor, and the registry that builds extractors by name."""

from __future__ import annotations

import pytest

import memvault.extract as extract
from memvault.errors import Conflict, InvalidInput
from memvault.extract import Message, build_extractor, extractor_names, register_extractor
from memvault.extract.offline import OfflineExtractor


def facts_of(*user_texts: str) -> list[str]:
    return OfflineExtractor().extract([Message("user", text) for text in user_texts])


def test_two_independent_clauses_joined_by_and_become_two_facts() -> None:
    assert facts_of("I moved to Lyon and I am vegetarian") == ["I moved to Lyon", "I am vegetarian"]


def test_and_between_two_objects_does_not_split() -> None:
    assert facts_of("I like salt and pepper") == ["I like salt and pepper"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # several sentences, clauses and separators
        (
            "Hi, I'm Anna and I live in Lyon. I work as a nurse; my husband is a teacher.",
            ["I'm Anna", "I live in Lyon", "I work as a nurse", "My husband is a teacher"],
        ),
        ("I'm from France, and I speak French.", ["I'm from France", "I speak French"]),
        (
            "My sister lives in Paris and my brother lives in Rome.",
            ["My sister lives in Paris", "My brother lives in Rome"],
        ),
        ("i moved to lyon. i am vegetarian!", ["I moved to lyon", "I am vegetarian"]),
        ("I work at Acme.I love it there", ["I work at Acme", "I love it there"]),
        (
            "- I have two kids\n- I drive a Tesla\n- what's a good school?",
            ["I have two kids", "I drive a Tesla"],
        ),
        (
            "My favourite food is sushi... I eat it every week!",
            ["My favourite food is sushi", "I eat it every week"],
        ),
        # conservative splitting
        ("I love my dog and my cats.", ["I love my dog and my cats"]),
        ("I was born in Rome and grew up in Lyon.", ["I was born in Rome and grew up in Lyon"]),
        ("I have a sister and she lives in Oslo.", ["I have a sister and she lives in Oslo"]),
        ("When I was young, I lived in Rome.", ["When I was young, I lived in Rome"]),
        # abbreviations and initials do not end a sentence
        (
            "I saw Dr. Smith at 5 p.m. yesterday. He said I'm fine.",
            ["I saw Dr. Smith at 5 p.m. yesterday", "He said I'm fine"],
        ),
        ("I live in the U.S. and I love it", ["I live in the U.S.", "I love it"]),
        # leading filler and announcements are removed, the fact kept
        ("Thanks, I moved to Lyon last week!", ["I moved to Lyon last week"]),
        ("ok so I have a dog", ["I have a dog"]),
        ("Remember that I'm allergic to peanuts.", ["I'm allergic to peanuts"]),
        ("Please remember I am allergic to peanuts", ["I am allergic to peanuts"]),
        ("FYI my birthday is on May 3", ["My birthday is on May 3"]),
        ("No, I don't eat meat", ["I don't eat meat"]),
        ("  I   hate\tolives!!!  ", ["I hate olives"]),
        ("I\u2019m vegetarian", ["I'm vegetarian"]),
        # questions, with or without a question mark
        ("where should I eat?", []),
        ("Where should I eat", []),
        ("Is the museum open today", []),
        ("How much should I tip", []),
        ("I moved to Lyon, any restaurant tips?", []),
        # requests and imperatives to the assistant, and talk about the assistant
        ("Can you recommend a restaurant?", []),
        ("please book a table for two", []),
        ("Tell me a joke", []),
        ("Please remember to buy milk", []),
        ("I was wondering if you could help me", []),
        ("Write a poem about my cat", []),
        ("Let's plan a trip", []),
        ("You are very helpful", []),
        # greetings, thanks, filler and fragments
        ("hi", []),
        ("thanks!", []),
        ("ok", []),
        ("Thanks for the tips", []),
        ("Sounds good, thanks", []),
        ("Yes I do", []),
        ("Me too!", []),
        ("Lyon", []),
        ("\U0001f600\U0001f44d", []),
        ("", []),
    ],
)
def test_user_text_gives_these_facts(text: str, expected: list[str]) -> None:
    assert facts_of(text) == expected


def test_only_user_turns_are_read() -> None:
    messages = [
        Message("system", "You are a helpful assistant and I am your system prompt."),
        Message("user", "I moved to Lyon last year."),
        Message("assistant", "I love Lyon and I know many restaurants there."),
        Message("User", "I am vegetarian."),
        Message("tool", "I am the weather tool and it is sunny."),
    ]
    assert OfflineExtractor().extract(messages) == ["I moved to Lyon last year", "I am vegetarian"]


def test_repeats_within_one_call_are_dropped_keeping_the_first_wording() -> None:
    assert facts_of("I am vegetarian.", "i am vegetarian!", "I moved to Lyon and I am Vegetarian") == [
        "I am vegetarian",
        "I moved to Lyon",
    ]


def test_same_input_gives_same_output() -> None:
    text = "Hey! I'm Tom and I run marathons. Can you plan my week? My knee hurts; I rest on Sundays."
    assert (
        facts_of(text)
        == facts_of(text)
        == ["I'm Tom", "I run marathons", "My knee hurts", "I rest on Sundays"]
    )


def test_no_messages_give_no_facts() -> None:
    assert OfflineExtractor().extract([]) == []


# The registry


def test_offline_is_the_default_extractor() -> None:
    extractor = build_extractor()
    assert isinstance(extractor, OfflineExtractor)
    assert extractor.name == "offline"


def test_built_in_extractors_are_registered() -> None:
    assert {"offline", "llm"} <= set(extractor_names())


def test_unknown_extractor_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown extractor 'nope'; known: .*offline"):
        build_extractor("nope")


def test_option_a_factory_does_not_take_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="extractor 'offline'"):
        build_extractor("offline", model="x")


def test_registered_factory_is_built_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract._registry, "_factories", dict(extract._registry._factories))

    class Fixed:
        name = "fixed"

        def __init__(self, facts: list[str]) -> None:
            self.facts = facts

        def extract(self, messages: list[Message]) -> list[str]:
            return self.facts

    register_extractor("fixed", Fixed)
    assert build_extractor("fixed", facts=["I am a test"]).extract([]) == ["I am a test"]
    with pytest.raises(Conflict):
        register_extractor("fixed", Fixed)
    register_extractor("fixed", OfflineExtractor, replace=True)
    assert isinstance(build_extractor("fixed"), OfflineExtractor)


def test_public_api_is_exactly_all() -> None:
    assert sorted(extract.__all__) == [
        "Extractor",
        "ExtractorFactory",
        "Message",
        "build_extractor",
        "extractor_names",
        "register_extractor",
    ]
    assert all(hasattr(extract, name) for name in extract.__all__)
