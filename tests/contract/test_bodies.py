"""Every answer's body has one form: one line of JSON, spaced as json.dumps writes it."""

import json

import pytest


def _is_canonical(text: str) -> bool:
    return text == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    "ask",
    [
        lambda api, user: api.balance(user),
        lambda api, user: api.balance(None),
        lambda api, user: api.history(user),
        lambda api, user: api.history(user, limit="0"),
        lambda api, user: api.summaries(user, period="day"),
        lambda api, user: api.summaries(user, period="week"),
        lambda api, user: api.transact({"userId": user, "ammount": "1", "type": "credit"}),
        lambda api, user: api.transact({"userId": user, "ammount": "1", "type": "debit"}, key="k"),
        lambda api, user: api.transact({"userId": user, "ammount": "1.001", "type": "credit"}),
        lambda api, user: api.transact({"userId": user, "ammount": "999", "type": "debit"}),
        lambda api, user: api.session.delete(f"{api.url}/balance", timeout=30),
    ],
    ids=[
        "balance", "balance-400", "history", "history-400", "summaries", "summaries-400",
        "post-201", "post-201-replay-source", "post-400", "post-422", "gateway-403",
    ],
)  # fmt: skip
def test_a_body_is_json_spaced_as_json_dumps_writes_it_with_nothing_around_it(api, user, ask):
    response = ask(api, user)

    assert response.headers["Content-Type"].startswith("application/json")
    assert _is_canonical(response.text), repr(response.text)


def test_a_replayed_body_has_the_same_form(api, user):
    body = {"userId": user, "ammount": "1", "type": "credit"}
    first = api.transact(body, key="same")
    replay = api.transact(body, key="same")

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.text == first.text
    assert _is_canonical(replay.text)
