"""The offline decider's rules (memvault/decide/offline.py) and the slots it reads (memvault/decide/slots.py).

One table of realistic cases: the memories shown for a fact (text and a plausible MiniLM cosine, best first, as
the engine passes them), the fact, and the decision expected (event and the index of the target memory).
"""

from __future__ import annotations

import pytest

from memvault.decide import Decision, Known, build_decider, decider_names
from memvault.decide.offline import SLOT_NAMES, OfflineDecider, Slot, slots

Shown = list[tuple[str, float]]


def case(shown: Shown, fact: str, event: str, target: int | None = None, *, id: str) -> object:
    return pytest.param(shown, fact, event, target, id=id)


SUPERSEDES = [
    # the user's own single-valued facts, said again with a new value
    case([("I've been living in Paris for five years", 0.71)], "Big news: I moved to Lyon last month", "SUPERSEDE", 0,
         id="residence: living in -> moved to"),
    case([("User lives in Paris", 0.74)], "I live in Berlin", "SUPERSEDE", 0, id="residence: third-person user"),
    case([("Lives in Paris", 0.70)], "I relocated to Lisbon for work", "SUPERSEDE", 0, id="residence: subject-less memory"),
    case([("I'm based in Berlin", 0.66)], "I live in Munich now", "SUPERSEDE", 0, id="residence: based in"),
    case([("I live in Paris", 0.80)], "I moved from Paris to Lyon", "SUPERSEDE", 0, id="residence: moved from X to Y"),
    case([("My home is in Toulouse", 0.64)], "We moved to Bordeaux in the spring", "SUPERSEDE", 0,
         id="residence: my home is in / we moved"),
    case([("I'm vegetarian", 0.78)], "I'm vegan now", "SUPERSEDE", 0, id="diet: vegetarian -> vegan"),
    case([("The user is vegetarian", 0.75)], "I'm pescatarian these days", "SUPERSEDE", 0, id="diet: the user"),
    case([("I'm on a keto diet", 0.62)], "I went vegan", "SUPERSEDE", 0, id="diet: on a keto diet -> went vegan"),
    case([("I have been vegan for years", 0.70)], "I eat meat again", "SUPERSEDE", 0, id="diet: eat meat again"),
    case([("I work at Google", 0.70)], "I joined Microsoft last week", "SUPERSEDE", 0, id="employer: joined"),
    case([("I work at Google as an engineer", 0.80)], "I work at Google as a product manager", "SUPERSEDE", 0,
         id="job: same employer, new title"),
    case([("I'm a teacher", 0.62)], "I work as a nurse now", "SUPERSEDE", 0, id="job: I'm a -> work as"),
    case([("Works as a barista", 0.58)], "I got a job as a software developer", "SUPERSEDE", 0, id="job: job as"),
    case([("I'm a student at MIT", 0.60)], "I work at Stripe now", "SUPERSEDE", 0, id="employer: student at -> work at"),
    case([("I work for Deloitte", 0.61)], "I've been hired by KPMG", "SUPERSEDE", 0, id="employer: hired by"),
    case([("My name is Dana", 0.55)], "Please call me Dee from now on", "SUPERSEDE", 0, id="name: call me"),
    case([("I am Dana", 0.60)], "My name is Diana", "SUPERSEDE", 0, id="name: correction"),
    case([("I'm 34", 0.80)], "I just turned 35", "SUPERSEDE", 0, id="age: turned"),
    case([("I am 29 years old", 0.80)], "I'm thirty now", "SUPERSEDE", 0, id="age: in words"),
    case([("User is a 41-year-old architect", 0.70)], "I'm 42 years old", "SUPERSEDE", 0, id="age: N-year-old"),
    case([("I'm single", 0.70)], "I'm engaged to Sam", "SUPERSEDE", 0, id="relationship: single -> engaged"),
    case([("I'm engaged", 0.80)], "We got married in June", "SUPERSEDE", 0, id="relationship: engaged -> married"),
    case([("I'm married", 0.80)], "I got divorced last year", "SUPERSEDE", 0, id="relationship: divorced"),
    case([("I'm dating Alex", 0.70)], "I broke up with Alex", "SUPERSEDE", 0, id="relationship: broke up"),
    case([("I'm in a relationship", 0.70)], "I'm single again", "SUPERSEDE", 0, id="relationship: single again"),
    case([("I have a girlfriend", 0.66)], "I'm engaged now", "SUPERSEDE", 0, id="relationship: girlfriend -> engaged"),
    case([("My favourite colour is blue", 0.80)], "My favorite color is green now", "SUPERSEDE", 0,
         id="favourite: colour / color"),
    case([("My favourite food is sushi", 0.80)], "Ramen is my favourite food", "SUPERSEDE", 0, id="favourite: X is my"),
    # denials of a stored fact, and the reverse
    case([("I drink coffee every morning", 0.80)], "I no longer drink coffee", "SUPERSEDE", 0, id="negation: no longer"),
    case([("I smoke a pack a day", 0.60)], "I quit smoking", "SUPERSEDE", 0, id="negation: quit"),
    case([("I have two kids", 0.66)], "I don't have kids", "SUPERSEDE", 0, id="negation: past a number"),
    case([("I play the violin", 0.72)], "I don't play the violin anymore", "SUPERSEDE", 0, id="negation: don't anymore"),
    case([("I live in Paris", 0.80)], "I don't live in Paris anymore", "SUPERSEDE", 0, id="negation: residence"),
    case([("I'm vegan", 0.80)], "I'm not vegan anymore", "SUPERSEDE", 0, id="negation: diet"),
    case([("I'm vegetarian", 0.70)], "I stopped being vegetarian", "SUPERSEDE", 0, id="negation: stopped being"),
    case([("I work at Acme Corp", 0.60)], "I quit my job", "SUPERSEDE", 0, id="negation: quit my job"),
    case([("I'm a software engineer at Stripe", 0.60)], "I'm retired now", "SUPERSEDE", 0, id="job: retired"),
    case([("I work at Netflix", 0.62)], "I got laid off from Netflix", "SUPERSEDE", 0, id="negation: laid off from"),
    case([("I no longer drink coffee", 0.80)], "I started drinking coffee again", "SUPERSEDE", 0,
         id="negation reversed: started again"),
    case([("I'm not vegan anymore", 0.80)], "I'm vegan again", "SUPERSEDE", 0, id="negation reversed: diet"),
    # another subject superseding its own fact
    case([("My brother lives in Madrid", 0.80)], "My brother moved to Berlin", "SUPERSEDE", 0, id="other: brother moved"),
    case([("My wife is a doctor", 0.70)], "My wife works as a surgeon now", "SUPERSEDE", 0, id="other: wife's job"),
    case([("My son is 5", 0.70)], "My son just turned 6", "SUPERSEDE", 0, id="other: son's age"),
    case([("Carol lives in Rome", 0.78)], "Carol moved to Milan", "SUPERSEDE", 0, id="other: named person"),
    case([("User's brother lives in Madrid", 0.77)], "My brother moved to Berlin", "SUPERSEDE", 0,
         id="other: the user's brother is my brother"),
]

NEVER_SUPERSEDE = [
    case([("I live in Lyon", 0.62)], "My brother lives in Madrid", "ADD", id="other subject: brother"),
    case([("I live in Paris", 0.55)], "Carol lives in Rome", "ADD", id="other subject: named"),
    case([("My brother lives in Madrid", 0.60)], "I moved to Berlin", "ADD", id="other subject: self after brother"),
    case([("I'm vegetarian", 0.50)], "My sister is vegan", "ADD", id="other subject: diet"),
    case([("I'm 34", 0.50)], "My daughter is 6", "ADD", id="other subject: age"),
    case([("I'm married", 0.60)], "My sister got divorced", "ADD", id="other subject: relationship"),
    case([("He moved to Berlin", 0.60)], "I live in Lyon", "ADD", id="other subject: pronoun"),
    case([("Dana lives in Paris", 0.60)], "I moved to Lyon", "ADD", id="other subject: a name not known as the user's"),
    case([("My brother Tom lives in Madrid", 0.70)], "My sister moved to Seville", "ADD", id="other subject: two siblings"),
    case([("I live in Lyon", 0.66)], "I work in Paris", "ADD", id="different slot: work in is no residence"),
    case([("I work at Google", 0.60)], "I live in Mountain View", "ADD", id="different slot: employer / residence"),
    case([("My favourite colour is blue", 0.60)], "My favourite food is pizza", "ADD", id="different slot: favourites"),
    case([("I live in Lyon", 0.70)], "I'm Italian", "ADD", id="different slot: nationality is none"),
    case([("I love hiking", 0.70)], "I love climbing", "ADD", id="multi-valued: love"),
    case([("I have a dog", 0.70)], "I have a cat", "ADD", id="multi-valued: pets"),
    case([("I play tennis on Sundays", 0.60)], "I play golf too", "ADD", id="multi-valued: hobbies"),
    case([("I like jazz", 0.66)], "I like techno", "ADD", id="multi-valued: likes"),
    case([("I'm vegan", 0.60)], "I'm gluten-free", "ADD", id="diet: gluten-free combines"),
    case([("I'm a mother of two", 0.55)], "I'm a teacher", "ADD", id="job: a mother is no job"),
    case([("I'm a nurse", 0.50)], "I'm a big fan of jazz", "ADD", id="job: a fan is no job"),
    case([("I'm a software developer", 0.55)], "I'm a good cook", "ADD", id="job: a good cook is a skill"),
    case([("I'm a teacher", 0.70)], "I'm a former nurse", "ADD", id="job: a former job"),
    case([("My name is Dana", 0.60)], "I'm Carol's sister", "ADD", id="name: someone's sister is no name"),
    case([("I am Dana", 0.55)], "I'm ADHD", "ADD", id="name: an acronym is no name"),
    case([("I live in Lyon", 0.50)], "I no longer drink coffee", "ADD", id="negation of something not stored"),
    case([("I like tea", 0.60)], "I don't eat meat anymore", "ADD", id="negation of something else"),
    case([("I drink coffee every morning", 0.60)], "I don't drink coffee after 6pm", "ADD", id="negation narrower"),
    case([("I used to live in Paris", 0.70)], "I live in Lyon", "ADD", id="tense: past residence"),
    case([("Previously lived in Paris", 0.68)], "I live in Lyon", "ADD", id="tense: previously"),
    case([("I live in Lyon", 0.70)], "I'm moving to Berlin next month", "ADD", id="tense: not moved yet"),
    case([("I live in Lyon", 0.60)], "I'm visiting Paris this week", "ADD", id="tense: a visit"),
    case([("I worked as a waiter in college", 0.60)], "I work as an accountant", "ADD", id="tense: past job"),
    case([("My sister is vegan", 0.96)], "My brother is vegan", "ADD", id="similar but two subjects"),
]

SAME_OR_MORE = [
    case([("I live in Paris", 0.90)], "I live in Paris", "NONE", 0, id="none: same words"),
    case([("User is vegetarian", 0.86)], "I'm vegetarian", "NONE", 0, id="none: user / I"),
    case([("I've been living in Paris for five years", 0.85)], "I live in Paris", "NONE", 0, id="none: said less"),
    case([("I love hiking in the Alps", 0.88)], "I love hiking", "NONE", 0, id="none: generic, said less"),
    case([("I work at Google", 0.90)], "I work for Google", "NONE", 0, id="none: at / for"),
    case([("My name is Dana", 0.80)], "I'm Dana", "NONE", 0, id="none: name"),
    case([("I'm a software engineer", 0.85)], "I'm an engineer", "NONE", 0, id="none: a value within the value"),
    case([("My favorite color is blue", 0.90)], "Blue is my favourite colour", "NONE", 0, id="none: favourite reversed"),
    case([("I adore board games", 0.96)], "I love board games", "NONE", 0, id="none: near duplicate by similarity"),
    case([("I live in Lyon", 0.82)], "I live in Lyon, in the Croix-Rousse district with my partner", "UPDATE", 0,
         id="update: residence said more"),
    case([("I'm an engineer", 0.80)], "I'm a software engineer at Stripe", "UPDATE", 0, id="update: job said more"),
    case([("I'm a nurse", 0.75)], "I work as a nurse at St. Mary's Hospital", "UPDATE", 0, id="update: employer added"),
    case([("I live in Paris", 0.80)], "I've been living in Paris for five years", "UPDATE", 0, id="update: duration"),
    case([("I have a dog", 0.80)], "I have a dog named Rex", "UPDATE", 0, id="update: generic"),
    case([("I love hiking", 0.80)], "I love hiking in the Alps with my dog", "UPDATE", 0, id="update: generic longer"),
]

PICK_THE_TARGET = [
    case([("I love Paris", 0.82), ("I live in Paris", 0.75), ("My brother lives in Madrid", 0.60)], "I moved to Lyon",
         "SUPERSEDE", 1, id="pick: the residence among a like and a brother"),
    case([("My brother lives in Madrid", 0.78), ("I live in Lyon", 0.70)], "My brother moved to Berlin", "SUPERSEDE", 0,
         id="pick: the brother's, not mine"),
    case([("I cook vegetarian food every Sunday", 0.81), ("I'm vegetarian", 0.78), ("My sister is vegan", 0.70)],
         "I'm vegan now", "SUPERSEDE", 1, id="pick: the diet, not a dish nor a sister"),
    case([("My name is Dana", 0.60), ("Dana lives in Paris", 0.70)], "I moved to Lyon", "SUPERSEDE", 1,
         id="pick: the user's name makes Dana the user"),
    case([("I live in Lyon", 0.90), ("I live in Paris", 0.70)], "I live in Lyon", "SUPERSEDE", 1,
         id="pick: a stale conflict goes before a duplicate"),
    case([("I'm a software engineer", 0.80), ("I work at Google", 0.70)], "I work at Google as a software engineer",
         "UPDATE", 0, id="pick: the most similar of two it completes"),
    case([("I drink tea", 0.80), ("I drink coffee every morning", 0.75), ("My husband drinks coffee", 0.74)],
         "I don't drink coffee anymore", "SUPERSEDE", 1, id="pick: my coffee, not tea nor my husband's"),
    case([("User lives in Paris", 0.80), ("I've lived in Paris since 2015", 0.78)], "I moved to Lyon", "SUPERSEDE", 0,
         id="pick: the most similar of two conflicts"),
    case([("My mom lives in Lyon", 0.85), ("Carol lives in Rome", 0.70), ("I live in Nice", 0.60)],
         "I moved to Marseille", "SUPERSEDE", 2, id="pick: mine, the least similar"),
    case([("I love hiking", 0.70), ("I love climbing", 0.68), ("I live in Lyon", 0.40)], "I love skiing", "ADD",
         id="pick: none among likes"),
    case([("I work at Google", 0.72), ("I'm 34", 0.50), ("I'm married", 0.45), ("I'm vegan", 0.40)],
         "I'm 35 and happily married", "SUPERSEDE", 1, id="pick: the age among four"),
]


@pytest.mark.parametrize(("shown", "fact", "event", "target"), SUPERSEDES + NEVER_SUPERSEDE + SAME_OR_MORE + PICK_THE_TARGET)
def test_decision(shown: Shown, fact: str, event: str, target: int | None) -> None:
    known = [Known(number, text, similarity) for number, (text, similarity) in enumerate(shown)]
    assert OfflineDecider().decide([fact], [known]) == [Decision(event, fact, target)]  # type: ignore[arg-type]


def test_the_table_is_large_and_covers_both_sides() -> None:
    everything = SUPERSEDES + NEVER_SUPERSEDE + SAME_OR_MORE + PICK_THE_TARGET
    assert len(everything) >= 60
    assert len(SUPERSEDES) >= 20 and len(NEVER_SUPERSEDE) >= 20 and len(PICK_THE_TARGET) >= 5


def test_one_decision_per_fact_in_order_with_the_numbers_given() -> None:
    known = [[Known(7, "I live in Paris", 0.8)], [], [Known(3, "I love jazz", 0.4), Known(4, "I'm vegan", 0.9)]]
    decisions = OfflineDecider().decide(["I moved to Lyon", "I love jazz", "I'm vegan"], known, instructions="ignored")
    assert decisions == [
        Decision("SUPERSEDE", "I moved to Lyon", 7),
        Decision("ADD", "I love jazz", None),
        Decision("NONE", "I'm vegan", 4),
    ]


def test_no_facts_no_decisions_and_a_fact_without_memories_is_added() -> None:
    decider = OfflineDecider()
    assert decider.decide([], []) == []
    assert decider.decide(["I moved to Lyon"], []) == [Decision("ADD", "I moved to Lyon", None)]


def test_the_registry_builds_it_by_name() -> None:
    assert "offline" in decider_names()
    decider = build_decider("offline")
    assert isinstance(decider, OfflineDecider) and decider.name == "offline"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I've been living in Paris for five years", [Slot("self", "residence", "paris")]),
        ("I work at Google as an engineer", [Slot("self", "employer", "google"), Slot("self", "job", "engineer")]),
        ("Hi, I'm Dana and I'm a 34-year-old nurse",
         [Slot("self", "name", "dana"), Slot("self", "age", "34"), Slot("self", "job", "nurse")]),
        ("My brother's name is Tom", [Slot("brother", "name", "tom")]),
        ("I'm married and vegan", [Slot("self", "relationship", "married"), Slot("self", "diet", "vegan")]),
        ("My favourite colour is blue", [Slot("self", "favorite color", "blue")]),
        ("The user lives in the US", [Slot("self", "residence", "us")]),
        ("I moved into a new flat in Lyon", [Slot("self", "residence", "lyon")]),
        ("I no longer drink coffee", []),
        ("I don't live in Paris anymore", []),
        ("I love hiking and I have two cats", []),
        ("I work in Paris", []),
        ("I'm from Paris", []),
        ("", []),
    ],
)
def test_slots_reads_what_a_text_states(text: str, expected: list[Slot]) -> None:
    assert slots(text) == expected


def test_every_slot_name_is_read_from_some_text() -> None:
    examples = ["I live in Lyon", "I work at Acme", "I'm a nurse", "My name is Dana", "I'm 34", "I'm single",
                "I'm vegan", "My favourite film is Heat"]
    seen = {slot.name.split()[0] for text in examples for slot in slots(text)}
    assert seen == set(SLOT_NAMES)


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        ("I adore board games", "I love board games", "NONE"),
        ("I have two kids", "I have three kids", "ADD"),
        ("I like coffee", "I don't like coffee with sugar", "ADD"),
    ],
)
def test_a_near_duplicate_by_similarity_keeps_its_numbers_and_polarity(old: str, new: str, event: str) -> None:
    decision = OfflineDecider().decide([new], [[Known(0, old, 0.97)]])[0]
    assert decision.event == event
