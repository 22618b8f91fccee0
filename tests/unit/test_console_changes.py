"""What a step changed in its input: added, changed and removed keys, nested ones by path."""

import json

from infra.console.changes import ADDED, CHANGED, REMOVED, Change, changes


def test_keys_added_changed_and_removed_are_told_apart_in_the_order_of_the_keys():
    before = {"body": "{}", "lock": {"owner": "a", "until": 1}, "stale": True}
    after = {"body": "{}", "lock": {"owner": "b", "until": 1}, "put": {"replay": None}}

    assert changes(json.dumps(before), json.dumps(after)) == [
        Change("lock.owner", CHANGED, '"a"', '"b"'),
        Change("stale", REMOVED, "true", None),
        Change("put", ADDED, None, '{\n  "replay": null\n}'),
    ]


def test_an_output_equal_to_its_input_changed_nothing():
    assert changes('{"a": [1, 2]}', '{"a": [1, 2]}') == []


def test_a_value_of_another_type_is_a_change_even_when_equal_in_python():
    assert changes('{"a": 1}', '{"a": true}') == [Change("a", CHANGED, "1", "true")]
    assert changes('{"a": 1}', '{"a": 1.0}') == [Change("a", CHANGED, "1", "1.0")]


def test_documents_that_are_not_objects_are_compared_whole():
    assert changes('"x"', '{"a": 1}') == [Change("", CHANGED, '"x"', '{\n  "a": 1\n}')]


def test_nothing_to_compare_without_both_documents_as_json():
    assert changes(None, "{}") is None
    assert changes("{}", "not json") is None
