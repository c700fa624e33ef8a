"""Tool calling through the gateway: the model asks for a tool, the client answers with a
tool message, the model answers in text — plain and streamed."""

from __future__ import annotations

import json
import uuid

import openai

from conftest import MockUpstream

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
TOOL_RESULT = '{"temperature_c": 21, "sky": "clear"}'


def test_tool_call_round_trip(client: openai.OpenAI, model: str):
    """The first answer is a get_weather call with JSON arguments; sending the tool's
    result back yields a final text answer that uses it."""
    first = client.chat.completions.create(model=model, messages=[QUESTION], tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert call.id
    args = json.loads(call.function.arguments)
    assert isinstance(args.get("city"), str) and args["city"]

    messages = [
        QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
    ]
    final = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    assert not final.choices[0].message.tool_calls
    assert TOOL_RESULT in final.choices[0].message.content


def test_streamed_tool_call_arguments_form_json(client: openai.OpenAI, model: str):
    """Streamed tool-call argument fragments concatenate to valid JSON, under one call id."""
    stream = client.chat.completions.create(model=model, messages=[QUESTION], tools=TOOLS, stream=True)
    ids, names, fragments, finish = set(), set(), [], []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.finish_reason:
                finish.append(choice.finish_reason)
            for tc in choice.delta.tool_calls or []:
                assert tc.index == 0
                if tc.id:
                    ids.add(tc.id)
                if tc.function and tc.function.name:
                    names.add(tc.function.name)
                if tc.function and tc.function.arguments:
                    fragments.append(tc.function.arguments)

    assert len(ids) == 1
    assert names == {"get_weather"}
    # The mock sends its arguments in two pieces; output scanning holds back the last
    # 48 bytes of each call's arguments, so a short call may arrive as one fragment.
    assert fragments
    args = json.loads("".join(fragments))
    assert isinstance(args.get("city"), str)
    assert finish == ["tool_calls"]


def test_more_tools_than_openai_allows_are_refused(client: openai.OpenAI, model: str):
    """At most 128 tools per request, as OpenAI allows: each is scanned and translated."""

    def tools(n: int) -> list[dict]:
        return [
            {"type": "function", "function": {"name": f"tool_{i}", "parameters": {"type": "object", "properties": {}}}}
            for i in range(n)
        ]

    ok = client.chat.completions.create(model=model, messages=[QUESTION], tools=tools(128))
    assert ok.choices
    try:
        client.chat.completions.create(model=model, messages=[QUESTION], tools=tools(129))
    except openai.BadRequestError as refused:
        assert refused.body["param"] == "tools" and "128" in refused.body["message"]
    else:
        raise AssertionError("129 tools were accepted")


def test_what_a_provider_adds_to_a_tool_call_comes_back_and_goes_up_again(
    client: openai.OpenAI, mock_upstream: MockUpstream
):
    """Gemini's OpenAI endpoint puts a `thought_signature` on each tool call and needs it
    back with the call in the next turn; it streams calls without `index` and chunks
    without `id` or `created`. The gateway keeps the signature both ways (it is no text
    to scan) and numbers the streamed calls (the mock's `mock_gemini` answers so)."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    gemini = {"mock_gemini": True}
    call = client.chat.completions.create(model="mock", messages=messages, tools=tools, extra_body=gemini).choices[0].message.tool_calls[0]
    signature = call.model_extra["extra_content"]["google"]["thought_signature"]
    assert signature

    calls: dict[int, dict] = {}
    for chunk in client.chat.completions.create(model="mock", messages=messages, tools=tools, extra_body=gemini, stream=True):
        for c in chunk.choices:
            for t in c.delta.tool_calls or []:
                got = calls.setdefault(t.index, {"name": "", "arguments": "", "extra": {}})
                got["name"] += (t.function.name or "") if t.function else ""
                got["arguments"] += (t.function.arguments or "") if t.function else ""
                got["extra"].update(t.model_extra or {})
    assert list(calls) == [0], calls
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert calls[0]["extra"]["extra_content"]["google"]["thought_signature"] == signature

    marker = uuid.uuid4().hex
    history = messages + [
        # With the `index` a client that rebuilt the call from a stream adds (LangChain).
        {"role": "assistant", "content": None, "tool_calls": [{**call.model_dump(exclude_none=True), "index": 0}]},
        {"role": "tool", "tool_call_id": call.id, "content": f"{marker} sunny"},
    ]
    client.chat.completions.create(model="mock", messages=history, tools=tools)
    sent = mock_upstream.requests_containing(marker)[-1]["body"]["messages"][1]["tool_calls"][0]
    assert sent["extra_content"]["google"]["thought_signature"] == signature, sent
    assert "index" not in sent, sent
