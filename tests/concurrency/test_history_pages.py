"""GET /transactions while the user's ledger grows: pages of every size from 1 to 100 list every
entry once, in order."""

import json
import threading

from tests.builders import api_event, ledger_entry, put_ledger_entry

BEFORE = 30  # entries the user has when the listing starts
AFTER = 130  # the writer stops there, so that the listings stay short


def page(aws, user, limit, cursor):
    query = {"userId": user, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
    event = api_event("/transactions", query)
    response = json.loads(
        aws.lambdas.invoke("GetTransactionsFunction", json.dumps(event).encode()).payload
    )
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def test_pages_of_every_size_list_every_entry_once_and_in_order_under_writes(local_aws):
    aws = local_aws
    user = "history-racer"
    for sequence in range(1, BEFORE + 1):
        put_ledger_entry(ledger_entry(user, sequence), aws.dynamodb)
    written = [BEFORE]
    stop = threading.Event()

    def writer():
        # Appends as the saga does: the user's next sequence, on top of the history.
        while not stop.wait(0.005) and written[0] < AFTER:
            put_ledger_entry(ledger_entry(user, written[0] + 1), aws.dynamodb)
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for limit in range(1, 101):
            listed, cursor = [], None
            while True:
                body = page(aws, user, limit, cursor)
                assert len(body["transactions"]) <= limit
                listed += [entry["sequence"] for entry in body["transactions"]]
                cursor = body["nextCursor"]
                if cursor is None:
                    break
            # Newest first, each once, from the newest seen at the first page down to 1.
            assert listed == list(range(listed[0], 0, -1)), limit
            assert listed[0] >= BEFORE
    finally:
        stop.set()
        thread.join()
    assert written[0] > BEFORE  # the writes really ran during the listing
