"""Choosing a skill: trigger phrases, the more specific phrase, the config's order, greetings."""

from __future__ import annotations

from support_bot.clients import Skill
from support_bot.routing import FALLBACK, GREETING, route


def skill(name: str, *triggers: str) -> Skill:
    return Skill(name=name, description=name, triggers=triggers, body="{passages}")


SKILLS = (
    skill("orders", "where is my order", "order status"),
    skill("shipping", "shipping", "delivery", "parcel"),
    skill("returns", "return", "refund", "money back"),
)


def test_a_trigger_phrase_picks_its_skill() -> None:
    chosen = route("Hello, where is my order please?", SKILLS)
    assert chosen.name == "orders" and chosen.matched == ("where is my order",)


def test_triggers_match_inflected_words() -> None:
    assert route("I returned two parcels", SKILLS).scores == {"shipping": 1, "returns": 1}
    assert route("Any news on my deliveries?", SKILLS).name == "shipping"


def test_triggers_match_whole_words_only() -> None:
    assert route("Was the deliveryman friendly?", SKILLS).name == FALLBACK


def test_a_longer_phrase_outweighs_a_single_word() -> None:
    chosen = route("The parcel came, I want my money back", SKILLS)
    assert chosen.name == "returns" and chosen.scores == {"shipping": 1, "returns": 2}


def test_a_tie_goes_to_the_skill_listed_first() -> None:
    assert route("refund for the delivery fee", SKILLS).name == "shipping"
    assert route("refund for the delivery fee", tuple(reversed(SKILLS))).name == "returns"


def test_short_openers_are_greetings() -> None:
    for message in ("Hi", "hello there!", "Good morning", "Hey you"):
        assert route(message, SKILLS).name == GREETING, message


def test_a_question_after_a_greeting_is_routed() -> None:
    assert route("hi, where is my order?", SKILLS).name == "orders"


def test_no_trigger_means_fallback() -> None:
    chosen = route("Do you sell garden furniture?", SKILLS)
    assert chosen.name == FALLBACK and chosen.skill is None
