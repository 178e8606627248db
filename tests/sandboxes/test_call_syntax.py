"""The one call-syntax parser the android, desktop and web actions are read with."""

import pytest

from sandboxes.call_syntax import BareWord, CallSyntaxError, UnknownName, parse_call


@pytest.mark.parametrize("text, name, args, kwargs", [
    ('tap("OK, go")', "tap", ["OK, go"], {}),
    ('type("a, b")', "type", ["a, b"], {}),
    ("type('it''s')", "type", ["its"], {}),  # adjacent literals join, as in Python
    ('click("12", button="right", modifiers=["Shift"])', "click", ["12"], {"button": "right", "modifiers": ["Shift"]}),
    ('tap({"text": "x), y"})', "tap", [{"text": "x), y"}], {}),
    ("drag(1, -2, 3.5, 4e1)", "drag", [1, -2, 3.5, 40.0], {}),
    ("  go_back()  ", "go_back", [], {}),
    ("f(None, True, (1, 2))", "f", [None, True, (1, 2)], {}),
])
def test_arguments_are_python_literals(text, name, args, kwargs):
    assert parse_call(text) == (name, args, kwargs)


def test_bare_words_are_told_apart_from_quoted_strings():
    name, args, _ = parse_call("scroll(4, down)", bare_words=True)
    assert (name, args) == ("scroll", [4, "down"]) and isinstance(args[1], BareWord)
    assert parse_call("open_app(com.android.settings)", bare_words=True)[1] == ["com.android.settings"]
    assert not isinstance(parse_call('key("back")', bare_words=True)[1][0], BareWord)
    with pytest.raises(CallSyntaxError, match="argument back is not a literal"):
        parse_call("key(back)")


def test_an_unknown_name_is_refused_before_its_arguments_are_read():
    with pytest.raises(UnknownName) as caught:
        parse_call("eval(__import__('os'))", known={"tap"})
    assert caught.value.name == "eval"


@pytest.mark.parametrize("text, reason", [
    ("", "expected a call such as name\\(arguments\\), got nothing"),
    (None, "expected a call written as text, got NoneType"),
    ('tap(1); tap(2)', r"not a call expression \(invalid syntax at column 7\)"),
    ("tap(1", r"not a call expression \('\(' was never closed"),
    ('os.system("id")', "expected a single call"),
    ("tap(1)(2)", "expected a single call"),
    ("tap(x)", "argument x is not a literal"),
    ("tap(1 + x)", "argument 1 \\+ x is not a literal"),
    ("tap(*[1])", r"\*arguments are not allowed"),
    ('tap(**{"a": 1})', r"\*\*kwargs are not allowed"),
    ("tap(a=1, a=2)", "keyword argument repeated"),
    ("tap({1, 2})", "holds a set value"),
    ('tap([b"x"])', "holds a bytes value"),
    ("tap({1: 2})", "holds a dict key that is not a string"),
    ("tap(1j)", "holds a complex value"),
    ("tap(\0)", "not a call expression"),
])
def test_mistakes_name_the_text_and_the_reason(text, reason):
    with pytest.raises(CallSyntaxError, match=reason) as caught:
        parse_call(text)
    assert str(caught.value).startswith(f"{text!r}: ")
