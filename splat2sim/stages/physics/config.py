from __future__ import annotations

from dataclasses import dataclass, field

ESTIMATORS = ("vlm", "clip", "prior")


@dataclass
class PhysicsConfig:
    estimators: list[str] = field(
        default_factory=lambda: ["vlm", "clip", "prior"],
        metadata={"help": "estimators tried in order per object (vlm, clip, prior); the first that works is used, each fallback is recorded"},
    )
    vlm_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (None: no VLM)"},
    )
    vlm_model: str = field(default="gpt-4o-mini", metadata={"help": "model name sent to the endpoint"})
    vlm_api_key_env: str = field(
        default="SPLAT2SIM_VLM_API_KEY",
        metadata={"help": "name of the environment variable holding the API key (the key itself is never stored)"},
    )
    vlm_timeout_s: float = field(default=60.0, metadata={"help": "per-request timeout (seconds)", "min": 0.05})
    vlm_retries: int = field(default=2, metadata={"help": "extra attempts after a failed request or an invalid answer", "min": 0, "max": 10})
    vlm_backoff_s: float = field(default=1.0, metadata={"help": "wait before the first retry; doubles each time", "min": 0.0})
    vlm_json_mode: bool = field(default=True, metadata={"help": "ask for response_format=json_object (turn off for servers that reject it)"})
    vlm_max_tokens: int = field(default=600, metadata={"min": 64})
    prompt: str = field(default="physics_v1", metadata={"help": "prompt file in splat2sim/assets/prompts/ (versioned)"})
    views: int = field(default=4, metadata={"help": "crops per object sent to the VLM / CLIP", "min": 1, "max": 12})
    crop_size: int = field(default=336, metadata={"help": "longest side of each crop in pixels", "min": 32})
    cache: bool = field(default=True, metadata={"help": "replay VLM answers cached by content hash (physics/vlm_cache/ and <workspace>/.cache/vlm/)"})
    cache_dir: str | None = field(default=None, metadata={"help": "an extra answer cache shared between workspaces (read and written)"})
    clip_model: str = field(default="ViT-B-32", metadata={"help": "open-clip architecture"})
    clip_weights: str | None = field(
        default=None,
        metadata={
            "help": "local open-clip checkpoint (.pt/.safetensors); None: look in $SPLAT2SIM_MODELS/clip/<model>.*; 'random': untrained weights (testing only)"
        },
    )
    objects: dict = field(
        default_factory=dict,
        metadata={"help": "known values per object id or label, e.g. {obj_000: {mass: 0.4}, mug: {material: ceramic}}"},
    )
    overrides_file: str | None = field(default=None, metadata={"help": "YAML/TOML file of known values (same shape as physics.objects)"})

    def validate(self) -> None:
        bad = [e for e in self.estimators if e not in ESTIMATORS]
        if bad:
            raise ValueError(f"unknown estimator(s) {bad}; choose from {', '.join(ESTIMATORS)}")
        if not self.estimators:
            raise ValueError("estimators must name at least one of vlm, clip, prior")
        if not isinstance(self.objects, dict):
            raise ValueError("objects must be a mapping of object id (or label) to known values")
        from splat2sim.stages.physics.overrides import parse

        parse(self.objects)  # raises ConfigError naming the bad key
