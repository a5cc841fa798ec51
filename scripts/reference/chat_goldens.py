#!/usr/bin/env python3
"""Write testdata/chat/goldens.json: what transformers' apply_chat_template renders for the real chat
templates in ../shared/data/tokenizers/ (Qwen2.5 from tokenizer_config.json's chat_template, SmolLM2
from the chat_template.jinja beside its tokenizer_config.json) and for a few small templates written
here that use the Jinja features the real ones do not (loop variables, namespace, raise_exception,
macros, filters, string methods, the list-of-named-templates form), over a varied message set.

Each case: {"template": name, "name", "messages", "add_generation_prompt", "tools"?, "vars"?,
"text" | "error", "ids"?, "assistant_spans"?}
  text:  apply_chat_template(messages, tokenize=False, add_generation_prompt=..., tools=..., **vars)
  ids:   apply_chat_template(..., tokenize=True) for the real tokenizers (checked here to equal
         tokenizer(text, add_special_tokens=False)), so `golamini tokenize --chat` is checked too
  error: the message of the TemplateError a template raised (raise_exception), when it raised
  overflow: the message of the OverflowError the sandbox raised (range() longer than MAX_RANGE)
  assistant_mask: 1 for the tokens of ids inside assistant_spans, as transformers marks a
         {% generation %} block's tokens (char_to_token of its first and last characters)
  assistant_spans: for conversations with assistant turns (real templates only), the character
         ranges [start, end) in text that carry each assistant message's content followed by the
         tokenizer's eos/end-of-turn token, found here the way TRL finds a turn, by rendering the
         conversation up to each assistant message with add_generation_prompt=True and comparing
         with the rendering that includes it (a method independent of golamini's offset search).
The templates written here are stored in the file ("templates"); the real ones are not copied:
Go tests read them from ../shared.

Run from the repository root:
    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/chat_goldens.py
"""
import json
import os
import sys

import jinja2
import transformers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data", "tokenizers")
OUT = os.path.join(ROOT, "testdata", "chat", "goldens.json")

SYS = {"role": "system", "content": "You are a terse assistant. Answer in one line."}
U1 = {"role": "user", "content": "How do I load data into golamini?"}
A1 = {"role": "assistant", "content": "Call r.LoadDataFromJSONLines(path, \"question\", \"answer\")."}
U2 = {"role": "user", "content": "And then?"}
A2 = {"role": "assistant", "content": "Then r.Train()  — and wait.\n"}
UNI = {"role": "user", "content": "  Ünïcödé ✓ 日本語 \"quotes\" <tags> & \\backslash\n\ttabbed  "}
EMPTY = {"role": "user", "content": ""}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather <now> & later",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Zürich"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                    "metric": {"type": "boolean", "default": True},
                    "extra": {"type": ["string", "null"], "default": None},
                },
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "now", "description": "Current time", "parameters": {"type": "object", "properties": {}}}},
]
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "metric": False}}},
        {"type": "function", "function": {"name": "now", "arguments": "{}"}},
    ],
}
TOOL_RESULT = {"role": "tool", "content": "{\"temp\": 21.5}"}
TOOL_RESULT2 = {"role": "tool", "content": "12:00"}
THINK = {"role": "assistant", "content": "<think>\nThe user asks twice.\n</think>\n\nStill r.Train()."}
REASON = {"role": "assistant", "content": "Done.", "reasoning_content": "Easy."}

COMMON = [
    ("user", [U1], [True, False], None, None),
    ("system_user", [SYS, U1], [True, False], None, None),
    ("multi_turn", [SYS, U1, A1, U2, A2], [False, True], None, None),
    ("multi_turn_no_system", [U1, A1, U2], [True], None, None),
    ("ends_with_assistant", [U1, A1], [False], None, None),
    ("unicode", [UNI, A2], [False, True], None, None),
    ("empty_content", [EMPTY], [True], None, None),
    ("extra_vars", [SYS, U1], [True], None, {"date_string": "26 Jul 2024", "custom": 3}),
]
QWEN_ONLY = [
    ("tools", [U1], [True], TOOLS, None),
    ("tools_system", [SYS, U1], [True], TOOLS, None),
    ("tool_calls", [SYS, U1, CALL, TOOL_RESULT, TOOL_RESULT2], [True, False], TOOLS, None),
    ("tool_calls_no_tools", [U1, CALL, TOOL_RESULT], [True], None, None),
    ("think", [U1, A1, U2, THINK], [False], None, None),
    ("reasoning_content", [U1, REASON], [False], None, None),
    ("reasoning_last_turns", [U1, A1, U2, REASON, U2], [True], None, None),
    ("enable_thinking_false", [U1], [True], None, {"enable_thinking": False}),
    ("system_later", [U1, SYS, U2], [True], None, None),
]

# Small templates written here for the Jinja features the real ones above do not use.
TEMPLATES = {
    "loop_vars": (
        "{% for m in messages %}{{ loop.index }}/{{ loop.length }}{% if loop.first %} first{% endif %}"
        "{% if loop.last %} last{% endif %} rev={{ loop.revindex0 }} prev={{ loop.previtem.role if loop.previtem is defined else '-' }}"
        " [{{ m.role | upper }}] {{ m.content | trim }}\n{% endfor %}"
        "{% for x in range(3) %}{{ x }}{{ ',' if not loop.last }}{% endfor %}\n"
        "{% for k, v in {'a': 1, 'b': [1, 2]}.items() %}{{ k }}={{ v | tojson }};{% endfor %}\n"
        "{% for m in messages if m.role == 'user' %}{{ m.content | length }} {% else %}none{% endfor %}\n"
        "{% for i in [1, 2, 3, 4] %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"
    ),
    "namespace_and_strings": (
        "{%- set ns = namespace(count=0, sys='') -%}\n"
        "{%- for m in messages -%}\n"
        "  {%- if m.role == 'system' %}{% set ns.sys = m.content.strip() %}{% endif -%}\n"
        "  {%- set ns.count = ns.count + 1 -%}\n"
        "{%- endfor -%}\n"
        "count={{ ns.count }} sys={{ ns.sys | default('none', true) }}\n"
        "{% for m in messages %}\n"
        "  {{ m.content.split(' ')[0] }}|{{ m.content.startswith('How') }}|{{ m.content.endswith('?') }}|{{ m.content.lower().replace('a', '@') }}|{{ m.content[:5] }}|{{ m.content.rstrip('?.') }}\n"
        "  {% if 'golamini' in m.content %}mentions{% elif m.content is string %}plain{% endif %}\n"
        "{% endfor %}\n"
        "{{ messages | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'user') | list | length }}\n"
        "{{ (messages | last).role }} {{ 'x-%d' % 7 if false else 'x-' ~ 7 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 5 }} {{ 1.5 * 3 }}\n"
        "{{ messages | tojson }}\n"
        "{{ {'z': 1, 'a': none, 'm': true, 'f': 0.1, 'n': '<&>'} | tojson }}\n"
        "{{ {'z': 1, 'a': [1, 2]} | tojson(separators=(',', ':')) }} {% for k, v in {'b': 2, 'a': 1} | dictsort %}{{ k }}{{ v }}{% endfor %}\n"
        "{{ date_string | default('no date') }} {{ bos_token | default('') }}{{ eos_token }}"
    ),
    "raise_exception": (
        "{% if messages[0].role != 'system' %}{{ raise_exception('Conversation must start with a system message, got ' + messages[0].role) }}{% endif %}"
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    ),
    "macro_and_whitespace": (
        "{% macro turn(role, content, last=false) %}<{{ role }}>\n  {{ content }}\n</{{ role }}>{% if not last %}\n{% endif %}{% endmacro %}\n"
        "{% for m in messages %}\n"
        "    {{ turn(m.role, m.content, loop.last) }}\n"
        "{% endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    <assistant>\n"
        "{% endif %}\n"
        "{# a comment #}\n"
        "{{ 'tail' if messages|length > 1 else 'short' }}{{ ['a', 'b'] | join(' ') }}{{ [3, 1, 2] | sort | join }}{{ 'abc' | capitalize }}{{ ('x' ~ 1) }}"
    ),
    # range() as transformers' sandboxed environment gives it (jinja2.sandbox's safe_range, at most
    # MAX_RANGE = 100000 items; a longer range raises OverflowError, recorded as "overflow").
    "range": (
        "{% for r in [range(5), range(2, 10, 3), range(10, 0, -3), range(-5), range(3, 3), range(5, 1),"
        " range(0, -7, -2), range(true), range(-3, 4, 2)] %}{{ r | list | tojson }};{% endfor %}"
        "{{ range(n) | length }}"
    ),
}

TEMPLATE_CASES = [
    ("loop_vars", [SYS, U1, A1, U2], [False], None, None),
    ("namespace_and_strings", [SYS, U1, A1, UNI], [False], None, None),
    ("namespace_and_strings", [U1], [False], None, {"date_string": "26 Jul 2024"}),
    ("raise_exception", [SYS, U1], [False], None, None),
    ("raise_exception", [U1], [False], None, None),
    ("macro_and_whitespace", [SYS, U1], [True, False], None, None),
    ("macro_and_whitespace", [U1], [False], None, None),
    ("range", [U1], [False], None, {"n": 100000}),
    ("range", [U1], [False], None, {"n": 100001}),
]


def render(tok, messages, agp, tools, extra, chat_template=None):
    return tok.apply_chat_template(messages, tools=tools, add_generation_prompt=agp, tokenize=False,
                                   chat_template=chat_template, **(extra or {}))


def assistant_spans(tok, messages, text, tools, extra):
    """Character ranges of each assistant message's content plus the end-of-turn token in text."""
    eos = tok.eos_token
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(tok, messages[:i], True, tools, extra)
        if not text.startswith(before):
            return None  # the template renders earlier turns differently once later ones follow
        start = text.index(m["content"], len(before)) if m["content"] else len(before)
        end = text.index(eos, start + len(m["content"])) + len(eos)
        spans.append([start, end])
    return spans


def assistant_mask(tok, text, spans):
    """Per-token 0/1 mask of the spans, made the way apply_chat_template(return_assistant_tokens_mask=True)
    turns its {% generation %} character ranges into tokens (char_to_token of the first and last character)."""
    enc = tok(text, add_special_tokens=False)
    mask = [0] * len(enc["input_ids"])
    for start, end in spans:
        first, last = enc.char_to_token(start), enc.char_to_token(end - 1)
        if first is None:
            break
        for i in range(first, last + 1 if last is not None else len(mask)):
            mask[i] = 1
    return mask


def main():
    if int(transformers.__version__.split(".")[0]) < 5:
        # transformers 4 reads chat_template.jinja and passes special tokens differently: these goldens are 5.x's.
        print(f"chat_goldens.py needs transformers 5 (found {transformers.__version__}); run it with "
              "~/.cache/golamini/venv-ref5/bin/python (scripts/reference/requirements-v5.txt). Nothing written.", file=sys.stderr)
        return
    cases = []
    special = {}
    for name in ["qwen2.5", "smollm2"]:
        tok = AutoTokenizer.from_pretrained(os.path.join(SHARED, name))
        special[name] = dict(tok.special_tokens_map)
        sets = COMMON + (QWEN_ONLY if name == "qwen2.5" else [])
        for case, messages, agps, tools, extra in sets:
            for agp in agps:
                text = render(tok, messages, agp, tools, extra)
                enc = tok.apply_chat_template(messages, tools=tools, add_generation_prompt=agp, tokenize=True, **(extra or {}))
                ids = enc["input_ids"] if isinstance(enc, dict) or hasattr(enc, "keys") else enc
                assert list(ids) == tok(text, add_special_tokens=False)["input_ids"], (name, case)
                row = {"template": name, "name": case, "messages": messages, "add_generation_prompt": agp}
                if tools is not None:
                    row["tools"] = tools
                if extra:
                    row["vars"] = extra
                row["text"] = text
                row["ids"] = list(ids)
                if any(m["role"] == "assistant" for m in messages) and not agp:
                    spans = assistant_spans(tok, messages, text, tools, extra)
                    if spans is not None:
                        row["assistant_spans"] = spans
                        row["assistant_mask"] = assistant_mask(tok, text, spans)
                cases.append(row)
    tok = AutoTokenizer.from_pretrained(os.path.join(SHARED, "smollm2"))
    for name, messages, agps, tools, extra in TEMPLATE_CASES:
        for agp in agps:
            row = {"template": name, "name": name, "messages": messages, "add_generation_prompt": agp}
            if extra:
                row["vars"] = extra
            try:
                row["text"] = render(tok, messages, agp, tools, extra, chat_template=TEMPLATES[name])
            except jinja2.exceptions.TemplateError as e:
                row["error"] = str(e)
            except OverflowError as e:
                row["overflow"] = str(e)
            cases.append(row)
    # The real SmolLM2 GGUF (scripts/smollm2-gguf): transformers' GGUF loader gives the same template and
    # special tokens as the smollm2 directory, so its cases are the smollm2 cases.
    gguf = None
    cache = os.environ.get("GOLAMINI_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "golamini")
    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if os.path.exists(os.path.join(cache, gguf_name)):
        gtok = AutoTokenizer.from_pretrained(cache, gguf_file=gguf_name)
        assert gtok.chat_template == tok.chat_template, "the GGUF's chat template differs from smollm2's"
        gguf = {"file": gguf_name, "same_template_as": "smollm2", "special_tokens": dict(gtok.special_tokens_map)}
    else:
        print(f"{gguf_name} is not in {cache} (scripts/smollm2-gguf fetches it): no GGUF entry written", file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generated_by": "scripts/reference/chat_goldens.py",
                   "special_tokens": special,  # the templates written here render with smollm2's
                   "gguf": gguf, "templates": TEMPLATES, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
