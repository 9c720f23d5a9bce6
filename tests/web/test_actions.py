"""The action language: what agents may write, and the errors they get back."""

import pytest

from selfgym.envs.web.actions import ACTIONS, ActionError, action_help, parse_action, tool_schemas


@pytest.mark.parametrize("text, name, args", [
    ("click('12')", "click", {"id": "12"}),
    ("click(12)", "click", {"id": "12"}),
    ('fill("16", "hello, world")', "fill", {"id": "16", "text": "hello, world"}),
    ("I will type it.\n```python\nfill('3', 'it\\'s (here)')\n```", "fill", {"id": "3", "text": "it's (here)"}),
    ("select_option('7', 'Blue')", "select_option", {"id": "7", "option": "Blue"}),
    ("press('Enter')", "press", {"key": "Enter"}),
    ("press('4', 'Tab')", "press", {"id": "4", "key": "Tab"}),
    ("scroll('DOWN')", "scroll", {"direction": "down"}),
    ("hover('9')", "hover", {"id": "9"}),
    ("noop()", "noop", {}),
    ("send_msg_to_user('Which date?')", "send_msg_to_user", {"text": "Which date?"}),
    ("click('1') then actually click('2')", "click", {"id": "2"}),
    ("fill(id='5', text='x')", "fill", {"id": "5", "text": "x"}),
    ("fill('2', \"it's\")", "fill", {"id": "2", "text": "it's"}),
])
def test_parse_accepts_browsergym_style_calls(text, name, args):
    action = parse_action(text)
    assert action.name == name and action.args == args


@pytest.mark.parametrize("text, message", [
    ("", "no action found"),
    ("tap('1')", "no action found"),
    ("click('1', '2')", "takes 1 argument"),
    ("fill('1')", "takes 2 argument"),
    ("scroll('left')", "'up' or 'down'"),
    ("click(x)", "quoted strings or integers"),
    ("click('1'", "malformed"),
    ("fill(id='1', txt='x')", "no parameter 'txt'"),
])
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(ActionError, match=message):
        parse_action(text)


def test_help_and_tool_schemas_come_from_one_description():
    text = action_help()
    schemas = tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(ACTIONS)
    for spec in ACTIONS.values():
        assert spec.doc in text
    press = next(s for s in schemas if s["function"]["name"] == "press")
    assert press["function"]["parameters"]["required"] == ["key"]
