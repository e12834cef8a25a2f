"""What the demo model knows: one topic per question a newcomer asks about chatting with
LLMs (tokens, streaming, temperature, system prompts, the growing prompt, token usage,
max_tokens and stop sequences), in markdown. ``nbchat.server.demo_model`` picks the topic
by keyword; the last two entries are the capabilities answer and the greeting."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FALLBACK", "TOPICS", "Topic"]


@dataclass(frozen=True)
class Topic:
    name: str
    keywords: tuple[str, ...]
    summary: str
    body: str


TOPICS: tuple[Topic, ...] = (
    Topic(
        "streaming",
        ("stream", "sse", "server-sent", "event-stream", "real time", "typing"),
        "Streaming sends the reply as many small pieces (server-sent events) while it is "
        "generated, so you see text after the first token instead of after the whole answer.",
        'With `"stream": true` the server keeps the HTTP response open and writes one '
        "`data: {...}` event per piece of text:\n\n"
        "- each event carries a **delta**: the next piece, which the client appends\n"
        "- the **last** event carries the finish reason and the token usage\n"
        "- an OpenAI-style stream ends with `data: [DONE]`\n\n"
        "A minimal reader with `requests`:\n\n"
        "```python\n"
        "import json, requests\n\n"
        'r = requests.post(url, json={"model": "demo", "messages": msgs, "stream": True},\n'
        "                  stream=True)\n"
        "for line in r.iter_lines():\n"
        '    if line.startswith(b"data: "):\n'
        '        event = json.loads(line[len(b"data: "):])\n'
        '        print(event["chat_completion"]["message"]["content"], end="")\n'
        "```",
    ),
    Topic(
        "token usage and cost",
        ("usage", "cost", "price", "pricing", "bill", "expensive", "cheap", "pay"),
        "Usage reports prompt tokens (what you sent) and completion tokens (what the model "
        "wrote); you pay for both, usually per million tokens.",
        "Every reply reports **token usage**:\n\n"
        "- **prompt**: tokens you sent, including the whole history\n"
        "- **completion**: tokens the model generated\n"
        "- **total**: the sum; providers bill prompt and completion at different rates\n\n"
        "```python\n"
        'usage = response.json()["token_usage"]\n'
        'cost = usage["prompt"] * 0.5e-6 + usage["completion"] * 1.5e-6\n'
        "```",
    ),
    Topic(
        "max_tokens and stop sequences",
        (
            "max_tokens",
            "max tokens",
            "max_completion",
            "stop sequence",
            "stop_sequence",
            "length",
            "truncat",
            "limit",
            "stop",
        ),
        "`max_tokens` caps how many tokens the reply may have (finish reason `length`); "
        "a stop sequence ends the reply just before that text appears (finish reason `stop`).",
        "Two ways to make a reply end early:\n\n"
        "- **max_tokens**: a hard cap on completion tokens; the reply is cut mid-sentence "
        'and `finish_reason` is `"length"`\n'
        '- **stop sequences**: strings such as `"\\n\\n"`; generation ends right before '
        'the first one and `finish_reason` is `"stop"`\n\n'
        "```python\n"
        'payload = {"model": "demo", "messages": msgs,\n'
        '           "model_parameters": {"max_tokens": 20, "stop_sequences": ["\\n\\n"]}}\n'
        "```",
    ),
    Topic(
        "tokens",
        ("token", "subword"),
        "A token is a small piece of text (a word, part of a word or a punctuation mark) "
        "that the model reads and writes one at a time.",
        "Models do not see characters or whole words, they see **tokens**:\n\n"
        "- common words are often one token; long or rare words are split into several\n"
        "- punctuation and leading spaces usually belong to their own tokens\n"
        "- prices, context limits and `max_tokens` are all counted in tokens\n\n"
        "This demo server uses a toy tokenizer you can try yourself:\n\n"
        "```python\n"
        "from nbchat.server.demo_model import tokenize\n\n"
        'tokenize("Tokenization splits text!")\n'
        "# ['Tokeni', 'zation', ' splits', ' text', '!']\n"
        "```",
    ),
    Topic(
        "temperature",
        ("temperature", "random", "creative", "deterministic", "top.p", "sampl"),
        "Temperature controls randomness: low values (near 0) pick the most likely next token, "
        "high values make the reply more varied and creative.",
        "At every step the model scores all possible next tokens and **samples** one:\n\n"
        "- **temperature 0**: (almost) always the top choice, good for facts and code\n"
        "- **temperature 0.7-1**: more variety, good for brainstorming and prose\n"
        "- **top_p** keeps only the most likely tokens whose probabilities add up to p\n\n"
        "This demo model ignores temperature on purpose: it is fully deterministic, "
        "so the same conversation always gets the same reply.",
    ),
    Topic(
        "system prompts",
        ("system prompt", "system message", "instruction", "persona", "role"),
        "A system prompt is a message with role `system` that sets the rules, tone and "
        "persona for the whole conversation.",
        "Chat APIs take a list of messages, each with a **role**:\n\n"
        "- `system`: instructions that apply to every turn (e.g. *answer tersely*)\n"
        "- `user`: what you type\n"
        "- `assistant`: earlier replies of the model, sent back as context\n\n"
        "```python\n"
        "messages = [\n"
        '    {"role": "system", "content": "You are terse."},\n'
        '    {"role": "user", "content": "What is a token?"},\n'
        "]\n"
        "```\n\n"
        "Try it here: start a chat with a system prompt that says *be brief*.",
    ),
    Topic(
        "why the prompt grows",
        ("grow", "history", "stateless", "memory", "remember", "context", "previous"),
        "The API is stateless: every request re-sends the whole conversation, so the prompt "
        "(and its token count) grows with each turn.",
        "The model keeps **no memory** between requests. To continue a conversation the "
        "client sends the **entire history** again:\n\n"
        "- turn 1 sends 1 message, turn 2 sends 3, turn 3 sends 5, and so on\n"
        "- so `prompt` tokens grow every turn, even for short questions\n"
        "- long chats eventually hit the **context window** limit; clients then drop or "
        "summarise old turns\n\n"
        "Watch the `prompt` number in the token usage grow as we keep talking.",
    ),
    Topic(
        "what I can do",
        ("what can you do", "help", "capabilit", "what do you know", "who are you", "what are you"),
        "I am the offline nbchat demo model: I explain how chatting with LLMs works, "
        "deterministically and without any network access.",
        "I am a small **offline demo model** built into nbchat. Ask me about:\n\n"
        "- **tokens** and how text is split\n"
        "- **streaming** replies token by token\n"
        "- **temperature** and sampling\n"
        "- **system prompts** and message roles\n"
        "- why the **prompt grows** every turn\n"
        "- **token usage** and cost\n"
        "- **max_tokens** and **stop sequences**\n\n"
        "I always give the same reply to the same conversation, which makes me handy for tests.",
    ),
    Topic(
        "greetings",
        ("hello", r"hi\b", r"hey\b", "good morning", "good evening", "greetings"),
        "Hello! Ask me about tokens, streaming, temperature or system prompts.",
        "Hello! I am the nbchat **demo model**, running offline on this machine "
        "(no key, no network).\n\n"
        "- ask *what is a token?*\n"
        "- or *how does streaming work?*\n"
        "- or *why does the prompt grow each turn?*",
    ),
)

FALLBACK = Topic(
    "something else",
    (),
    "I am a small demo model and only know about chatting with LLMs; try asking about tokens.",
    "I am a small offline demo model, so I can only talk about how chatting with LLMs "
    "works. Good questions to try:\n\n"
    "- *What is a token?*\n"
    "- *How does streaming work?*\n"
    "- *What does temperature do?*\n"
    "- *Why does the prompt grow each turn?*\n"
    "- *What do max_tokens and stop sequences do?*",
)
