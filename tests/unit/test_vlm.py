"""The VLM client against a real HTTP server on 127.0.0.1 that speaks the OpenAI
chat-completions API: good answers, malformed JSON, out-of-range values, HTTP 500 and 429,
a timeout, a dropped connection, the API key in the header only, and the answer cache."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from splat2sim.stages.physics.cache import AnswerCache, request_key
from splat2sim.stages.physics.vlm import ChatClient, InvalidAnswer, VLMError, extract_json, validate_answer

KEY = "sk-test-3f9a1c-DO-NOT-LEAK"


def good_answer(**changes) -> dict:
    answer = {
        "label": "mug", "material": "ceramic", "hollow": True, "wall_thickness_m": 0.005,
        "mass_kg": {"value": 0.35, "range": [0.28, 0.42]},
        "density_kg_m3": {"value": 2400, "range": [2100, 2600]},
        "static_friction": {"value": 0.6, "range": [0.5, 0.7]},
        "dynamic_friction": {"value": 0.5, "range": [0.4, 0.6]},
        "rolling_friction": {"value": 0.001, "range": [0.0, 0.005]},
        "restitution": {"value": 0.3, "range": [0.2, 0.4]},
        "size_m": [0.126, 0.087, 0.086], "confidence": 0.7,
    }  # fmt: skip
    answer.update(changes)
    return answer


class FakeVLM:
    """A real HTTP server in a thread. ``script`` is a list of behaviours consumed one per
    request (the last one repeats); a behaviour may also be a callable(request) -> behaviour:
      ("answer", text)       200 with a chat completion whose content is ``text``
      ("status", code, retry_after or None)
      ("sleep", seconds, text)  wait, then answer (the client times out first)
      ("drop",)              close the connection without a response
      ("raw", bytes)         200 with this body (not a chat completion)
    """

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                with outer.lock:
                    outer.requests.append(request)
                    step = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if callable(step):
                    step = step(request)
                kind = step[0]
                try:
                    if kind == "answer":
                        self._json(200, completion(step[1], request["body"]["model"]))
                    elif kind == "status":
                        self._json(
                            step[1],
                            {"error": {"message": f"test status {step[1]}", "type": "test"}},
                            {"Retry-After": str(step[2])} if len(step) > 2 and step[2] is not None else {},
                        )
                    elif kind == "sleep":
                        time.sleep(step[1])
                        self._json(200, completion(step[2], request["body"]["model"]))
                    elif kind == "drop":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                    elif kind == "raw":
                        self._send(200, step[1], "text/plain")
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            def _json(self, code, payload, headers=None):
                self._send(code, json.dumps(payload).encode(), "application/json", headers)

            def _send(self, code, data, ctype, headers=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def completion(content: str, model: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}  # fmt: skip


def client(url, **kw) -> ChatClient:
    kw.setdefault("timeout_s", 2.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff_s", 0.01)
    return ChatClient(url, "test-vlm", KEY, **kw)


MESSAGES = [{"role": "system", "content": "answer in JSON"}, {"role": "user", "content": [{"type": "text", "text": "a mug"}]}]


def validate(content):
    return validate_answer(extract_json(content), [0.126, 0.087, 0.086])


def test_good_answer_and_request_shape():
    with FakeVLM([("answer", json.dumps(good_answer()))]) as server:
        c = client(server.url)
        content, (answer, notes), attempts = c.complete(MESSAGES, validate=validate)
    assert answer["material"] == "ceramic" and answer["hollow"] and answer["mass_kg"]["value"] == 0.35
    assert [a["outcome"] for a in attempts] == ["ok"]
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"
    assert req["body"]["model"] == "test-vlm" and req["body"]["temperature"] == 0
    assert req["body"]["response_format"] == {"type": "json_object"}
    assert req["body"]["messages"] == MESSAGES


def test_answer_in_code_fence_with_text_is_accepted():
    text = "Here you go:\n```json\n" + json.dumps(good_answer()) + "\n```"
    with FakeVLM([("answer", text)]) as server:
        _, (answer, _), attempts = client(server.url).complete(MESSAGES, validate=validate)
    assert answer["mass_kg"]["value"] == 0.35 and len(attempts) == 1


@pytest.mark.parametrize(
    "bad, outcome",
    [
        ("this is not json at all", "malformed"),
        ('{"material": "ceramic", "mass_kg": {"value": 0.3', "malformed"),
        (json.dumps(good_answer(mass_kg={"value": -0.4, "range": [-1, 0]})), "invalid"),
        (json.dumps(good_answer(static_friction={"value": 40, "range": [30, 50]})), "invalid"),
        (json.dumps(good_answer(restitution={"value": 1.7})), "invalid"),
        (json.dumps(good_answer(material="unobtainium")), "invalid"),
        (json.dumps(good_answer(wall_thickness_m=None)), "invalid"),
    ],
)
def test_bad_answers_are_retried_with_the_reason_then_accepted(bad, outcome):
    with FakeVLM([("answer", bad), ("answer", json.dumps(good_answer()))]) as server:
        _, (answer, _), attempts = client(server.url).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in attempts] == [outcome, "ok"]
    assert answer["mass_kg"]["value"] == 0.35
    # the retry tells the model what was wrong
    retry = server.requests[1]["body"]["messages"]
    assert retry[:2] == MESSAGES and "not usable" in retry[2]["content"]


def test_bad_answers_every_time_raise_after_retries():
    with FakeVLM([("answer", json.dumps(good_answer(mass_kg={"value": -1})))]) as server:
        with pytest.raises(VLMError) as err:
            client(server.url, retries=2).complete(MESSAGES, validate=validate)
    assert len(server.requests) == 3
    assert "mass_kg" in err.value.message and [a["outcome"] for a in err.value.attempts] == ["invalid"] * 3


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_retried(status):
    with FakeVLM([("status", status, None), ("answer", json.dumps(good_answer()))]) as server:
        _, (answer, _), attempts = client(server.url).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in attempts] == [f"http_{status}", "ok"]
    assert f"test status {status}" in attempts[0]["detail"]


def test_429_honours_retry_after():
    slept = []
    with FakeVLM([("status", 429, 0.2), ("answer", json.dumps(good_answer()))]) as server:
        c = client(server.url, backoff_s=0.01)
        c.sleep = lambda s: (slept.append(s), time.sleep(s))
        c.complete(MESSAGES, validate=validate)
    assert slept == [pytest.approx(0.2)]


def test_auth_failure_is_not_retried_and_names_the_fix():
    with FakeVLM([("status", 401, None)]) as server:
        with pytest.raises(VLMError) as err:
            client(server.url).complete(MESSAGES, validate=validate)
    assert len(server.requests) == 1 and not err.value.retryable
    assert "401" in err.value.message and "vlm_api_key_env" in err.value.hint
    assert KEY not in str(err.value)


def test_timeout_is_retried_then_raises():
    with FakeVLM([("sleep", 1.0, json.dumps(good_answer()))]) as server:
        t0 = time.perf_counter()
        with pytest.raises(VLMError) as err:
            client(server.url, timeout_s=0.25, retries=1).complete(MESSAGES, validate=validate)
        seconds = time.perf_counter() - t0
    assert [a["outcome"] for a in err.value.attempts] == ["timeout", "timeout"]
    assert len(server.requests) == 2 and seconds < 2.0
    assert "0.25 s" in err.value.message


def test_timeout_then_success():
    with FakeVLM([("sleep", 1.0, "{}"), ("answer", json.dumps(good_answer()))]) as server:
        _, _, attempts = client(server.url, timeout_s=0.25).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in attempts] == ["timeout", "ok"]


def test_dropped_connection_is_retried():
    with FakeVLM([("drop",), ("answer", json.dumps(good_answer()))]) as server:
        _, _, attempts = client(server.url).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in attempts] == ["connection", "ok"]


def test_non_chat_reply_and_refused_connection():
    with FakeVLM([("raw", b"<html>gateway</html>"), ("raw", json.dumps({"foo": 1}).encode()), ("answer", json.dumps(good_answer()))]) as server:
        _, _, attempts = client(server.url).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in attempts] == ["malformed", "invalid", "ok"]
    # nothing listens on this port any more
    with pytest.raises(VLMError) as err:
        client(server.url, retries=1).complete(MESSAGES, validate=validate)
    assert [a["outcome"] for a in err.value.attempts] == ["connection", "connection"]


def test_key_never_appears_in_errors_even_if_the_server_echoes_it():
    with FakeVLM([lambda req: ("answer", "Authorization was " + req["headers"]["Authorization"])]) as server:
        with pytest.raises(VLMError) as err:
            client(server.url, retries=0).complete(MESSAGES, validate=validate)
    assert KEY not in str(err.value) and KEY not in json.dumps(err.value.attempts)
    with FakeVLM([lambda req: ("status", 500, None)]) as server:
        with pytest.raises(VLMError) as err:
            ChatClient(server.url, "m", KEY, timeout_s=2, retries=0).complete(MESSAGES)
    assert KEY not in str(err.value)


def test_validation_fixes_small_problems_with_notes():
    answer, notes = validate_answer(good_answer(mass_kg={"value": 0.5, "range": [0.1, 0.3]},
                                                dynamic_friction={"value": 0.8, "range": [0.7, 0.9]}, material="Porcelain"))  # fmt: skip
    assert answer["mass_kg"]["range"] == [0.1, 0.5]
    assert answer["dynamic_friction"]["value"] == answer["static_friction"]["value"]
    assert answer["material"] == "ceramic"
    assert any("widened" in n for n in notes) and any("dynamic friction" in n for n in notes)
    with pytest.raises(InvalidAnswer):
        validate_answer(good_answer(size_m=[0.1, -2, 0.1]))
    with pytest.raises(InvalidAnswer):
        validate_answer(good_answer(confidence="very"))


def test_cache_key_and_replay(tmp_path):
    c = ChatClient("http://127.0.0.1:9/v1", "m", KEY)
    body = c.payload(MESSAGES)
    key = request_key(body, "physics_v1")
    assert key == request_key(ChatClient("http://elsewhere/v1", "m", "other-key").payload(MESSAGES), "physics_v1")
    assert key != request_key(ChatClient("http://127.0.0.1:9/v1", "m2", KEY).payload(MESSAGES), "physics_v1")
    assert key != request_key(body, "physics_v2")
    first, second = tmp_path / "a", tmp_path / "b"
    cache = AnswerCache([first], [first])
    assert cache.get(key) is None
    cache.put(key, {"model": "m", "content": "{}"})
    replay = AnswerCache([second, first], [second])
    assert replay.get(key)["content"] == "{}" and replay.hits == 1
    assert (second / f"{key}.json").is_file()  # carried forward
    text = (first / f"{key}.json").read_text()
    assert KEY not in text and "127.0.0.1" not in text
    (first / f"{key}.json").write_text("{broken")
    assert AnswerCache([first], []).get(key) is None
