"""Drive `golamini serve` with the official OpenAI Python client.

Usage: openai_client.py BASE_URL MODEL API_KEY < cases.json

cases.json: {"prompts": [...], "chat": [[messages...], ...], "max_tokens": N,
"schemas": [{...}, ...], "concurrent": [...prompts...]}. Prints one JSON object
with what the client received, for the Go test to compare with golamini's own
generation: completions and chat, plain and streamed (greedy), JSON-schema
responses, 16 concurrent streams, and the errors the client raises.
"""
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import openai


def main():
    base, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
    cases = json.load(sys.stdin)
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)
    mt = cases["max_tokens"]
    out = {"completions": [], "completions_stream": [], "chat": [], "chat_stream": [], "json": [], "errors": {}}

    for p in cases["prompts"]:
        r = client.completions.create(model=model, prompt=p, max_tokens=mt, temperature=0)
        out["completions"].append({"text": r.choices[0].text, "finish_reason": r.choices[0].finish_reason,
                                   "usage": r.usage.model_dump()})
        text, finish = "", None
        for chunk in client.completions.create(model=model, prompt=p, max_tokens=mt, temperature=0, stream=True):
            for c in chunk.choices:
                text += c.text
                finish = c.finish_reason or finish
        out["completions_stream"].append({"text": text, "finish_reason": finish})

    for msgs in cases["chat"]:
        r = client.chat.completions.create(model=model, messages=msgs, max_tokens=mt, temperature=0)
        out["chat"].append({"content": r.choices[0].message.content, "role": r.choices[0].message.role,
                            "finish_reason": r.choices[0].finish_reason})
        text, finish = "", None
        for chunk in client.chat.completions.create(model=model, messages=msgs, max_tokens=mt, temperature=0,
                                                    stream=True, stream_options={"include_usage": True}):
            for c in chunk.choices:
                text += c.delta.content or ""
                finish = c.finish_reason or finish
        out["chat_stream"].append({"content": text, "finish_reason": finish})

    for i, schema in enumerate(cases["schemas"]):
        for seed in range(3):
            r = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Answer in JSON."}],
                max_tokens=cases["json_max_tokens"][i] + 10 * seed, temperature=1.0 if seed else 0, seed=seed,
                response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}})
            content = r.choices[0].message.content
            try:
                parsed, err = json.loads(content), None
            except ValueError as e:
                parsed, err = None, str(e)
            out["json"].append({"schema": i, "seed": seed, "content": content, "parsed": parsed, "error": err})

    def stream_one(p):
        text = ""
        for chunk in client.completions.create(model=model, prompt=p, max_tokens=mt, temperature=0, stream=True):
            for c in chunk.choices:
                text += c.text
        return text

    with ThreadPoolExecutor(max_workers=len(cases["concurrent"])) as pool:
        out["concurrent"] = list(pool.map(stream_one, cases["concurrent"]))

    def err(name, fn):
        try:
            fn()
            out["errors"][name] = {"status": 200}
        except openai.APIStatusError as e:
            body = e.body if isinstance(e.body, dict) else {}
            out["errors"][name] = {"status": e.status_code, "param": body.get("param"), "code": body.get("code"),
                                   "message": body.get("message")}

    err("max_tokens_zero", lambda: client.completions.create(model=model, prompt="x", max_tokens=0))
    err("unknown_model", lambda: client.completions.create(model="no-such-model", prompt="x"))
    err("bad_key", lambda: openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list())
    err("models", lambda: client.models.list())
    out["models"] = [m.id for m in client.models.list().data]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
