"""The Velocity engine against API Gateway's documented $input, $util and $context behaviour."""

import json

import pytest

from infra.local.apigateway.vtl import (
    InvalidJsonBodyError,
    TemplateError,
    escape_javascript,
    java_string,
    jsonpath,
    render,
)

BODY = '{"name": "Ann", "tags": ["a", "b"], "address": {"city": "Oslo"}, "age": 7, "ok": true}'
PARAMS = {
    "path": {"id": "p1", "shared": "from-path"},
    "querystring": {"q": "search", "shared": "from-query"},
    "header": {"X-Trace": "t1", "shared": "from-header", "Content-Type": "application/json"},
}


def text(template: str, **kwargs) -> str:
    kwargs.setdefault("body", BODY)
    kwargs.setdefault("params", PARAMS)
    return render(template, **kwargs).text


# $input


def test_input_body_is_the_raw_payload():
    assert text("$input.body") == BODY


def test_input_body_of_an_empty_payload_is_an_empty_object():
    # API Gateway hands templates "{}" for an empty payload.
    assert text("$input.body", body="") == "{}"


def test_input_body_length_counts_utf16_code_units():
    # The request template caps the body with $input.body.length() (java.lang.String.length()).
    assert text("$input.body.length()", body='{"a": "é😀"}') == "12"
    assert text("#if($input.body.length() > 11)long#{else}short#{end}", body="x" * 12) == "long"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", json.loads(BODY)),
        ("$.name", "Ann"),
        ("$.tags", ["a", "b"]),
        ("$.tags[1]", "b"),
        ("$['address']['city']", "Oslo"),
        ("$.age", 7),
        ("$.ok", True),
        ("$.missing", None),
        ("$.tags[*]", ["a", "b"]),
    ],
    ids=["root", "field", "list", "index", "brackets", "number", "boolean", "missing", "wildcard"],
)
def test_input_json_is_the_json_text_of_the_path(path, expected):
    assert json.loads(text(f'$input.json("{path}")')) == expected


def test_input_path_returns_objects_usable_in_the_template():
    template = (
        "#set($doc = $input.path('$'))"
        "$doc.name|$doc.address.city|$doc.tags.size()|$doc.tags.get(0)|$doc.age|$doc.ok"
    )
    assert text(template) == "Ann|Oslo|2|a|7|true"


def test_input_path_prints_maps_the_java_way_and_lists_as_json():
    assert text("$input.path('$.address')") == "{city=Oslo}"
    assert text("$input.path('$.tags')") == '["a","b"]'


def test_input_path_of_a_missing_property_prints_nothing():
    assert text("[$input.path('$.missing')]") == "[]"


def test_input_path_on_a_body_that_is_not_json_raises():
    with pytest.raises(InvalidJsonBodyError):
        render("$input.path('$.a')", body="not json")
    with pytest.raises(InvalidJsonBodyError):
        render("$input.json('$')", body="{")


def test_input_params_without_a_name_is_every_parameter_by_location():
    assert text("$input.params().path.id|$input.params().querystring.q") == "p1|search"
    assert text("$input.params().header.get('X-Trace')") == "t1"
    assert text("$input.params().keySet()") == "[path, querystring, header]"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shared", "from-path"),
        ("q", "search"),
        ("X-Trace", "t1"),
        ("x-trace", "t1"),
        ("nothing", ""),
    ],
    ids=["path-first", "querystring", "header", "header-case-insensitive", "missing"],
)
def test_input_params_with_a_name_searches_path_querystring_then_header(name, expected):
    assert text(f"$input.params('{name}')") == expected


def test_input_params_of_a_location_without_parameters_is_an_empty_map():
    assert render("$input.params().path.size()", params={}).text == "0"


# $util.escapeJavaScript


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ('say "hi"', 'say \\"hi\\"'),
        ("it's", "it\\'s"),
        ("back\\slash", "back\\\\slash"),
        ("</script>", "<\\/script>"),
        ("a\nb\rc\td\be\ff", "a\\nb\\rc\\td\\be\\ff"),
        ("\x00\x1f", "\\u0000\\u001F"),
        ("\x7f", "\x7f"),
        ("é", "\\u00E9"),
        ("\u20ac", "\\u20AC"),
        ("\u0fff", "\\u0FFF"),
        ("😀", "\\uD83D\\uDE00"),
        ("plain ASCII 123 <>&", "plain ASCII 123 <>&"),
    ],
    ids=[
        "double-quote",
        "single-quote",
        "backslash",
        "slash",
        "control-shortcuts",
        "control-unicode",
        "delete-unescaped",
        "latin-1",
        "bmp",
        "bmp-leading-zero",
        "emoji-surrogate-pair",
        "ascii",
    ],
)
def test_escape_javascript_is_commons_lang_escape_javascript(raw, escaped):
    assert escape_javascript(raw) == escaped
    assert render(
        "$util.escapeJavaScript($input.params('v'))", params={"path": {"v": raw}}
    ).text == (escaped)


def test_escape_javascript_with_replace_all_yields_a_json_string():
    raw = "it's \"quoted\" \\ / \n é 😀 \\'"
    template = """$util.escapeJavaScript($input.params('v')).replaceAll("\\\\'", "'")"""
    escaped = render(template, params={"path": {"v": raw}}).text
    assert json.loads(f'"{escaped}"') == raw


def test_the_vtl_literal_backslash_backslash_quote_is_three_characters():
    # Velocity 1.7 string literals keep backslashes, so "\\'" is the Java regex \\' .
    assert text("""#set($s = "\\\\'")$s.length()""") == "3"


def test_escape_javascript_of_null_prints_nothing():
    assert text("[$util.escapeJavaScript($nothing)]") == "[]"


# The other $util functions


def test_parse_json_returns_objects():
    template = """#set($o = $util.parseJson('{"a": {"b": [1, 2]}, "s": "x"}'))$o.a.b.get(1)|$o.s"""
    assert text(template) == "2|x"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$util.urlEncode('a b&c=d/é~*')", "a+b%26c%3Dd%2F%C3%A9%7E*"),
        ("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", "a b&c=d/é"),
        ("$util.base64Encode('héllo')", "aMOpbGxv"),
        ("$util.base64Decode('aMOpbGxv')", "héllo"),
    ],
    ids=["url-encode", "url-decode", "base64-encode", "base64-decode"],
)
def test_util_encoding_functions(template, expected):
    assert text(template) == expected


# $context, $stageVariables and overrides


def test_context_variables_are_available():
    result = render(
        "$context.requestId|$context.identity.sourceIp",
        context={"requestId": "r-1", "identity": {"sourceIp": "192.0.2.1"}},
    )
    assert result.text == "r-1|192.0.2.1"


def test_stage_variables_are_available():
    assert render("$stageVariables.table", stage_variables={"table": "t"}).text == "t"


def test_no_override_when_the_template_sets_none():
    result = render("plain")
    assert (result.status_override, result.header_overrides) == (None, {})


def test_response_override_status_and_headers_are_returned():
    result = render(
        "#set($context.responseOverride.status = 429)"
        '#set($context.responseOverride.header.Retry-After = "1")'
        "#set($context.responseOverride.header.X-Flag = true)"
    )
    assert result.status_override == 429
    assert result.header_overrides == {"Retry-After": "1", "X-Flag": "true"}


def test_response_override_status_given_as_a_string_is_a_number():
    assert render('#set($context.responseOverride.status = "201")').status_override == 201


def test_a_template_error_raises_template_error():
    with pytest.raises(TemplateError):
        render("$util.parseJson('not json')")


# Velocity 1.7 semantics that plain airspeed-ext lacks


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("#set($b = true)$b", "true"),
        ("#set($b = 1 == 2)$b", "false"),
        ('#set($l = [true, false, $nothing, "s", 1])$l', "[true, false, null, s, 1]"),
        ('#set($m = {"a": true, "b": $nothing})$m', "{a=true, b=null}"),
        ('#set($m = {"a": [false]})$m.toString()', "{a=[false]}"),
        ("#set($b = true)$b.toString()", "true"),
        ('#set($m = {"a": 1})$m.keySet()', "[a]"),
    ],
    ids=["boolean", "comparison", "list", "map", "map-to-string", "to-string", "key-set"],
)
def test_values_print_as_java_does(template, expected):
    assert text(template) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("$nothing", "no"),
        ("$m.nothing", "no"),
        ("!$nothing", "yes"),
        ("false", "no"),
        ("!true", "no"),
        ('""', "yes"),
        ("0", "yes"),
        ("$m", "yes"),
        ("[]", "yes"),
        ('$nothing || ""', "yes"),
        ("$nothing && true", "no"),
        ("$m.a == 1 && !$m.b", "yes"),
    ],
    ids=[
        "null",
        "missing-property",
        "not-null",
        "false",
        "not-true",
        "empty-string",
        "zero",
        "map",
        "empty-list",
        "or",
        "and",
        "compound",
    ],
)
def test_if_is_true_for_anything_but_null_and_false(condition, expected):
    assert text('#set($m = {"a": 1})#if(' + condition + ")yes#{else}no#end") == expected


def test_null_prints_nothing_and_set_to_null_keeps_the_value():
    assert text("[$nothing][$!nothing][$nothing.method()]") == "[][][]"
    assert text('#set($x = "kept")#set($x = $nothing)$x') == "kept"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('$s.replaceAll("l+", "L")', "heLo, worLd"),
        ('$s.replaceAll("(l+)", "[$1]")', "he[ll]o, wor[l]d"),
        ("$s.replaceAll('(?<x>o)', '${x}0')", "hello0, wo0rld"),
        ("$s.replaceAll('o', '\\$')", "hell$, w$rld"),
        ('#set($d = "a.b")$d.replaceAll("\\Q.\\E", "-")|$d.replaceAll(".", "-")', "a-b|---"),
        ('$s.replaceFirst("l", "L")', "heLlo, world"),
        ("$s.toString()", "hello, world"),
        ('$s.equals("hello, world")', "true"),
        ("$s.equals(1)", "false"),
        ('$s.equalsIgnoreCase("HELLO, WORLD")', "true"),
        ("$s.toLowerCase()|$s.toUpperCase()", "hello, world|HELLO, WORLD"),
        ("$s.length()", "12"),
        ('$s.contains("lo, w")', "true"),
        ("$s.isEmpty()", "false"),
        ('$s.indexOf("z")|$s.indexOf("o")', "-1|4"),
        ('$s.startsWith("he")|$s.endsWith("ld")', "true|true"),
        ('$s.matches("h.*d")|$s.matches("h")', "true|false"),
        ('$s.split(", ")', "[hello, world]"),
        ("$s.substring(7)|$s.substring(0, 5)|[$s.substring(12)]", "world|hello|[]"),
    ],
    ids=[
        "replace-all",
        "replace-all-group",
        "replace-all-named-group",
        "replace-all-escaped-dollar",
        "replace-all-quoted",
        "replace-first",
        "to-string",
        "equals",
        "equals-other-type",
        "equals-ignore-case",
        "case",
        "length",
        "contains",
        "is-empty",
        "index-of",
        "starts-ends",
        "matches",
        "split",
        "substring",
    ],
)
def test_java_string_methods(template, expected):
    assert text('#set($s = "hello, world")' + template) == expected


def test_empty_string_is_empty():
    assert text('#set($e = "")$e.isEmpty()|$e.length()') == "true|0"


def test_length_counts_utf16_code_units_as_java_does():
    assert text('#set($e = "😀")$e.length()') == "2"


def test_substring_counts_utf16_code_units_as_java_does():
    assert text('#set($e = "a😀b")$e.substring(1, 3)|$e.substring(3)') == "😀|b"
    # Cutting a pair in two leaves a lone surrogate, as in Java.
    assert text('#set($e = "😀")$e.substring(0, 1)') == "\ud83d"


def test_substring_out_of_range_is_a_template_error():
    with pytest.raises(TemplateError):
        text('#set($e = "abc")$e.substring(2, 4)')


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$m.size()", "2"),
        ('$m.containsKey("a")|$m.containsKey("z")', "true|false"),
        ('$m.get("a")|[$m.get("z")]', "1|[]"),
        ("$m.keySet()", "[a, b]"),
        ("$m.isEmpty()", "false"),
        ("#foreach($k in $m.keySet())$k=$m.get($k);#end", "a=1;b=2;"),
    ],
    ids=["size", "contains-key", "get", "key-set", "is-empty", "iterate-keys"],
)
def test_java_map_methods(template, expected):
    assert text('#set($m = {"a": 1, "b": 2})' + template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('#if($t == "true")yes#{else}no#end', "yes"),
        ("#if($n == 1.0)yes#{else}no#end", "yes"),
        ('#if($n != "1")yes#{else}no#end', "no"),
        ('#if($nothing == "")yes#{else}no#end', "no"),
        ('#set($c = "n=" + $n)$c', "n=1"),
    ],
    ids=["boolean-vs-string", "number-vs-number", "number-vs-string", "null", "string-concat"],
)
def test_velocity_comparisons_and_concatenation(template, expected):
    assert text("#set($t = true)#set($n = 1)" + template) == expected


def test_java_string_of_doubles():
    assert [java_string(v) for v in (1.5, 100.0, 1e7, 1.5e-5, -2.5e10)] == [
        "1.5",
        "100.0",
        "1.0E7",
        "1.5E-5",
        "-2.5E10",
    ]


def test_jsonpath_rejects_paths_it_does_not_support():
    with pytest.raises(ValueError):
        jsonpath({}, "a.b")
    with pytest.raises(ValueError):
        jsonpath({}, "$..a")
