"""A small client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, Ollama,
LM Studio, ...), standard library only, and the validation of physics answers.

The API key is read from the environment by the caller and only ever placed in the
``Authorization`` header: no message, exception or record made here contains it
(``redact`` scrubs anything that comes back from the server, in case it echoes headers).
"""

from __future__ import annotations

import http.client
import json
import math
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from splat2sim.errors import StageError

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class VLMError(StageError):
    """The endpoint could not give a valid answer (after retries)."""

    def __init__(self, message: str, *, attempts: list[dict] | None = None, retryable: bool = True, hint: str | None = None):
        super().__init__(
            message, hint=hint or "check physics.vlm_url / vlm_model and the endpoint's logs; the stage falls back to clip/prior estimates"
        )
        self.attempts = attempts or []
        self.retryable = retryable


class InvalidAnswer(ValueError):
    """The model answered, but not with usable physics. ``kind``: malformed (not JSON) or
    invalid (JSON, but not the schema or outside physical bounds)."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


@dataclass
class Attempt:
    number: int
    outcome: str  # ok | timeout | http_<status> | connection | malformed | invalid
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"attempt": self.number, "outcome": self.outcome, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass
class ChatClient:
    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 1.0
    json_mode: bool = True
    max_tokens: int = 600
    sleep: object = time.sleep
    requests_sent: int = field(default=0, init=False)

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"

    def redact(self, text: str) -> str:
        text = str(text)
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)[:300]

    def payload(self, messages: list[dict]) -> dict:
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _post(self, body: dict) -> dict:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "splat2sim"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, data=data, headers=headers, method="POST")
        host = urllib.parse.urlparse(self.endpoint).hostname or ""
        handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost", "::1") else []
        opener = urllib.request.build_opener(*handlers)
        self.requests_sent += 1
        with opener.open(request, timeout=self.timeout_s) as response:
            raw = response.read()
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidAnswer(f"the response body is not JSON ({exc.__class__.__name__})", "malformed") from None

    def complete(self, messages: list[dict], validate=None) -> tuple[str, object, list[dict]]:
        """Send, retrying transport failures and invalid answers. Returns (content, validated,
        attempts). ``validate(content) -> value`` raises InvalidAnswer for a bad answer; the
        next attempt then tells the model what was wrong."""
        attempts: list[Attempt] = []
        messages = list(messages)
        for number in range(1, self.retries + 2):
            t0 = time.perf_counter()
            wait = self.backoff_s * 2 ** (number - 1)
            try:
                reply = self._post(self.payload(messages))
                content = _content(reply)
                value = validate(content) if validate else content
                attempts.append(Attempt(number, "ok", "", time.perf_counter() - t0))
                return content, value, [a.as_dict() for a in attempts]
            except urllib.error.HTTPError as exc:
                detail = self.redact(_error_body(exc))
                attempts.append(Attempt(number, f"http_{exc.code}", detail, time.perf_counter() - t0))
                if exc.code not in RETRYABLE_STATUS:
                    raise VLMError(f"the VLM endpoint refused the request (HTTP {exc.code}: {detail})", attempts=[a.as_dict() for a in attempts],
                                   retryable=False, hint=_status_hint(exc.code)) from None  # fmt: skip
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    wait = max(wait, min(retry_after, 30.0))
            except (TimeoutError, socket.timeout):
                attempts.append(Attempt(number, "timeout", f"no answer within {self.timeout_s:g} s", time.perf_counter() - t0))
            except urllib.error.URLError as exc:
                reason = exc.reason
                kind = "timeout" if isinstance(reason, (TimeoutError, socket.timeout)) else "connection"
                attempts.append(Attempt(number, kind, self.redact(reason), time.perf_counter() - t0))
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                attempts.append(Attempt(number, "connection", self.redact(f"{exc.__class__.__name__}: {exc}"), time.perf_counter() - t0))
            except InvalidAnswer as exc:
                attempts.append(Attempt(number, exc.kind, self.redact(exc), time.perf_counter() - t0))
                messages = messages[:2] + [
                    {
                        "role": "user",
                        "content": f"Your previous answer was not usable: {exc}. Answer again with one JSON object only, following the schema.",
                    }
                ]
                wait = 0.0  # the server is fine; ask again straight away
            if number <= self.retries and wait > 0:
                self.sleep(wait)
        summary = ", ".join(f"{a.outcome}" for a in attempts)
        raise VLMError(f"no valid VLM answer after {len(attempts)} attempt(s) ({summary}): {attempts[-1].detail}",
                       attempts=[a.as_dict() for a in attempts])  # fmt: skip


def _content(reply: dict) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise InvalidAnswer("the response has no choices[0].message.content (not an OpenAI chat-completions JSON reply)") from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        raise InvalidAnswer("the answer is empty (not JSON)", "malformed")
    return content


def _error_body(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only for the message
        body = ""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.strip() or exc.reason
    return str(message)


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_hint(code: int) -> str:
    if code in (401, 403):
        return "the endpoint rejected the API key: set the environment variable named by physics.vlm_api_key_env"
    if code == 404:
        return "check physics.vlm_url (it should end in /v1) and physics.vlm_model"
    return "check physics.vlm_url / vlm_model; the stage falls back to clip/prior estimates"


# ----------------------------------------------------------------------------- answers
def extract_json(content: str) -> dict:
    """The JSON object in a model's answer (tolerates code fences and text around it)."""
    text = content.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise InvalidAnswer("the answer is not JSON", "malformed") from None
        try:
            value = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise InvalidAnswer(f"the answer is not valid JSON ({exc.msg} at character {exc.pos})", "malformed") from None
    if not isinstance(value, dict):
        raise InvalidAnswer("the answer is JSON but not an object")
    return value


# physical bounds: (low, high) inclusive
BOUNDS = {
    "mass_kg": (1e-4, 500.0),
    "density_kg_m3": (5.0, 22000.0),
    "static_friction": (0.0, 2.0),
    "dynamic_friction": (0.0, 2.0),
    "rolling_friction": (0.0, 0.2),
    "restitution": (0.0, 1.0),
}


def _number(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise InvalidAnswer(f"{name} must be a finite number, got {x!r}")
    return float(x)


def _ranged(answer: dict, name: str, required: bool, notes: list[str]) -> dict | None:
    raw = answer.get(name)
    if raw is None:
        if required:
            raise InvalidAnswer(f"{name} is missing")
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = {"value": raw}
    if not isinstance(raw, dict) or "value" not in raw:
        raise InvalidAnswer(f'{name} must be {{"value": .., "range": [low, high]}}')
    low_b, high_b = BOUNDS[name]
    value = _number(raw["value"], f"{name}.value")
    if not low_b <= value <= high_b:
        raise InvalidAnswer(f"{name} = {value:g} is outside physical bounds [{low_b:g}, {high_b:g}]")
    rng = raw.get("range")
    if rng is None:
        notes.append(f"{name}: no range given; using +-30%")
        lo, hi = value * 0.7, value * 1.3
    else:
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise InvalidAnswer(f"{name}.range must be [low, high]")
        lo, hi = sorted(_number(r, f"{name}.range") for r in rng)
        if lo < low_b or hi > high_b:
            raise InvalidAnswer(f"{name}.range [{lo:g}, {hi:g}] is outside physical bounds [{low_b:g}, {high_b:g}]")
        if not lo <= value <= hi:
            notes.append(f"{name}: range [{lo:g}, {hi:g}] did not contain the value {value:g}; widened")
            lo, hi = min(lo, value), max(hi, value)
    return {"value": value, "range": [lo, hi]}


def validate_answer(answer: dict, dims: list[float] | None = None) -> tuple[dict, list[str]]:
    """Check a parsed answer against physical bounds. Returns (clean, notes); raises InvalidAnswer."""
    from splat2sim.stages.physics.priors import normalise_material

    notes: list[str] = []
    out: dict = {}
    out["label"] = str(answer.get("label") or "")[:60] or None
    material = normalise_material(answer.get("material"))
    if material is None:
        raise InvalidAnswer(f"material {answer.get('material')!r} is not one of the listed materials")
    out["material"] = material
    hollow = answer.get("hollow", False)
    if not isinstance(hollow, bool):
        raise InvalidAnswer(f"hollow must be true or false, got {hollow!r}")
    out["hollow"] = hollow
    t = answer.get("wall_thickness_m")
    if hollow:
        t = _number(t, "wall_thickness_m") if t is not None else None
        if t is None or not 0.0002 <= t <= 0.05:
            raise InvalidAnswer(f"wall_thickness_m of a hollow object must be in [0.0002, 0.05] m, got {t!r}")
        if dims and t > 0.5 * min(d for d in dims if d > 0) and all(d > 0 for d in dims):
            notes.append(f"wall thickness {t} m is more than half the smallest dimension")
    out["wall_thickness_m"] = t if hollow else None
    for name in BOUNDS:
        out[name] = _ranged(answer, name, required=name in ("mass_kg",), notes=notes)
    sf, df = out["static_friction"], out["dynamic_friction"]
    if sf and df and df["value"] > sf["value"]:
        notes.append(f"dynamic friction {df['value']:g} > static {sf['value']:g}: set dynamic = static")
        df["value"] = sf["value"]
        df["range"] = [min(df["range"][0], sf["value"]), max(min(df["range"][1], sf["range"][1]), sf["value"])]
    size = answer.get("size_m")
    if size is not None:
        if not isinstance(size, (list, tuple)) or not 1 <= len(size) <= 3:
            raise InvalidAnswer("size_m must be a list of up to three lengths in metres")
        size = [_number(s, "size_m") for s in size]
        if any(not 0.001 <= s <= 10.0 for s in size):
            raise InvalidAnswer(f"size_m {size} is outside [0.001, 10] m")
    out["size_m"] = size
    conf = answer.get("confidence", 0.5)
    conf = _number(conf, "confidence") if conf is not None else 0.5
    out["confidence"] = min(max(conf, 0.0), 1.0)
    return out, notes
