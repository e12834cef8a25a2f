"""A client's configuration is checked when it is built, and each call's messages before any
request: a bad value is a ConfigError naming the argument, never a late TypeError or a retried
connection error, and no message ever quotes the key (issue 10, items 1, 4, 15 and 16)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from nbchat.server import Server, serve

KEY = "sk-config-canary-7d41"


@pytest.fixture(scope="module")
def keyed() -> Iterator[Server]:
    with serve(api_key=KEY, tokens_per_second=0) as server:
        yield server


def base(server: Server, api: str) -> str:
    return server.url + ("/egp/v1" if api == "egp" else "/v1")


# ---------------------------------------------------------------- the key (item 1)


@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize("padded", [KEY + "\n", f"  {KEY}\r\n", f"\t{KEY} "])
def test_a_key_read_from_a_file_is_stripped_and_works(keyed: Server, api: str, padded: str) -> None:
    client = nbchat.Client(base_url=base(keyed, api), api=api, api_key=padded, max_retries=0)
    # The server requires the exact key: a reply proves the stripped key was sent.
    assert client.complete("ping", model="echo").content == "ping"


@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize(
    ("key", "says"),
    [
        (KEY + "\nsecond-line", "line break"),
        (KEY + "\x00", "control character"),
        (KEY + "é€", "Latin-1"),
        (12345, "must be a string, not int"),
        (b"sk-bytes", "must be a string, not bytes"),
    ],
)
def test_a_key_that_cannot_be_a_header_is_refused_at_construction(
    keyed: Server, api: str, key: Any, says: str
) -> None:
    with pytest.raises(nbchat.ConfigError) as info:
        nbchat.Client(base_url=base(keyed, api), api=api, api_key=key)
    text = str(info.value) + repr(info.value)
    assert says in text and "api_key" in text
    assert KEY not in text and "12345" not in text and "sk-bytes" not in text


def test_an_invalid_extra_header_is_refused_without_its_value() -> None:
    with pytest.raises(
        nbchat.ConfigError, match=r"headers\['x-token'\] holds a line break"
    ) as info:
        nbchat.Client(
            base_url="http://127.0.0.1:1/v1", headers={"x-token": KEY + "\nX-Injected: 1"}
        )
    assert KEY not in str(info.value)
    with pytest.raises(nbchat.ConfigError, match="not a valid header name"):
        nbchat.Client(base_url="http://127.0.0.1:1/v1", headers={"bad name": "v"})
    with pytest.raises(nbchat.ConfigError, match="auth_header"):
        nbchat.Client(base_url="http://127.0.0.1:1/v1", api="openai", auth_header="x key")


# ---------------------------------------------------------------- configuration (item 15)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "base_url must be an http:// or https:// URL"),
        ({"base_url": "ftp://example.com/v1"}, "ftp://example.com/v1"),
        ({"base_url": 123}, "base_url must be a string"),
        ({"base_url": "http:///v1"}, "base_url must be an http"),
        ({"timeout": 0}, "timeout must be a finite number of seconds > 0"),
        ({"timeout": -1}, "timeout must be a finite number of seconds > 0"),
        ({"timeout": float("nan")}, "timeout must be a finite number"),
        ({"timeout": (5,)}, "timeout must be seconds or a (connect, read) pair"),
        ({"timeout": None}, "timeout must be seconds or a (connect, read) pair"),
        ({"timeout": "5"}, "timeout must be a number of seconds"),
        ({"timeout": (5, 0)}, "timeout (read) must be a finite number of seconds > 0"),
        ({"max_retries": "2"}, "max_retries must be a whole number"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"max_retries": 1.5}, "max_retries must be a whole number"),
        ({"api": "anthropic"}, "unknown api"),
        ({"max_tokens_field": "max"}, "max_tokens_field must be one of"),
    ],
)
def test_bad_configuration_is_a_config_error_naming_the_argument(
    kwargs: dict[str, Any], names: str
) -> None:
    kwargs.setdefault("base_url", "http://127.0.0.1:1/v1")
    with pytest.raises(nbchat.ConfigError) as info:
        nbchat.Client(**kwargs)
    assert names in str(info.value)


def test_spaces_around_a_url_are_stripped(live_server: Server) -> None:
    client = nbchat.Client(base_url=f"  {live_server.url}/egp/v1/ \n", max_retries=0)
    assert client.base_url == live_server.url + "/egp/v1"
    assert client.complete("hi", model="echo").content == "hi"


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"temperature": float("nan")}, "temperature must be a finite number"),
        ({"stop": 5}, "stop must be a string or a list of strings"),
        ({"extra": "x"}, "extra must be a dict"),
        ({"max_tokens": "10"}, "max_tokens must be a number"),
    ],
)
def test_bad_parameters_fail_at_the_call_before_any_request(
    live_server: Server, params: dict[str, Any], names: str
) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", max_retries=0)
    model = f"echo-params-{names[:5]}"
    with pytest.raises(nbchat.ConfigError, match=names):
        client.complete("hi", model=model, **params)
    with pytest.raises(nbchat.ConfigError, match=names):
        client.stream("hi", model=model, **params)
    assert not [r for r in live_server.requests if r["model"] == model]


# ---------------------------------------------------------------- messages (item 16)


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_a_plain_string_is_one_user_message(live_server: Server, api: str) -> None:
    client = nbchat.Client(base_url=base(live_server, api), api=api, api_key="k", max_retries=0)
    assert client.complete("hello", model="echo").content == "hello"
    assert client.request("hello", "m").payload["messages"] == [
        {"role": "user", "content": "hello"}
    ]


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ({"role": "user", "content": "hi"}, "got one dict: wrap it in a list"),
        (["hi"], "messages[0] must be a dict with 'role' and 'content', not str"),
        (None, "not NoneType"),
        ([], "the list is empty"),
        (42, "not int"),
        (b"hi", "not bytes"),
        ([{"role": "user", "content": "a"}, None], "messages[1] must be a dict"),
    ],
)
@pytest.mark.parametrize("api", ["egp", "openai"])
def test_messages_of_the_wrong_shape_say_what_messages_must_be(
    api: str, messages: Any, says: str
) -> None:
    client = nbchat.Client(base_url="http://127.0.0.1:1/v1", api=api, max_retries=0)
    for call in (client.complete, client.stream, client.request):
        with pytest.raises(nbchat.ConfigError) as info:
            call(messages, model="m")
        assert says in str(info.value)
        assert "messages must be a list of message dicts" in str(info.value)


def test_model_must_be_a_non_empty_string() -> None:
    client = nbchat.Client(base_url="http://127.0.0.1:1/v1", max_retries=0)
    for model in ("", None, 3):
        with pytest.raises(nbchat.ConfigError, match="model must be a non-empty string"):
            client.request("hi", model)  # type: ignore[arg-type]


# ---------------------------------------------------------------- credentials in the URL (item 4)

URL_SECRET = "urlsecret-93b1"


def test_credentials_in_the_base_url_are_never_shown(
    live_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    host = live_server.url.removeprefix("http://")
    url = f"http://nbuser:pw-{URL_SECRET}@{host}/egp/v1?key={URL_SECRET}#frag-{URL_SECRET}"
    client = nbchat.Client(base_url=url, api_key="k", max_retries=0)
    assert client.display_url == live_server.url + "/egp/v1"
    panel = nbchat.ChatPanel(client=client, model="echo")
    with caplog.at_level(logging.DEBUG):
        assert panel.send("hi").wait(10).content == "hi"
        stream = client.stream("x", model="demo?fault=500")
        with pytest.raises(nbchat.APIError) as info, stream:
            list(stream)
    shown = "\n".join(
        [
            repr(client),
            str(client),
            repr(panel),
            panel.backend,
            repr(client.request("x", "m")),
            str(client.request("x", "m").to_dict()),
            str(info.value),
            repr(info.value),
            caplog.text,
            *(r.getMessage() for r in caplog.records),
        ]
    )
    assert live_server.url + "/egp/v1" in panel.backend
    assert "urllib3" in caplog.text or "POST" in caplog.text  # the debug lines were captured
    assert URL_SECRET not in shown and "nbuser" not in shown
    assert "?key" not in panel.get_state()["backend"]


def test_a_bad_base_url_in_chat_magic_is_a_usage_error() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from nbchat import magic

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbchat")
    magic.reset(shell)
    try:
        for _ in range(2):  # the same bad value again is refused again
            with capture_output() as cap:
                result = shell.run_cell("%%chat --base-url ftp://example.com/v1 --model m\nhi")
            assert not result.success
            assert "UsageError: %%chat: base_url must be an http:// or https:// URL" in cap.stderr
            assert "Traceback" not in cap.stderr
    finally:
        magic.reset(shell)
