"""The fake RunComfy's deployments: saved API-format graphs, exposed overrides, hardware SKUs.

Deployment objects carry the fields listed for `GET /prod/v2/deployments`
(https://docs.runcomfy.com/mcp/tool-reference): `id, name, workflow_id, workflow_version,
hardware` (a list with one SKU), `min_instances, max_instances, queue_size,
keep_warm_duration_in_seconds, status, is_enabled, created_at, updated_at`, and with
`includes=payload` a `payload` of `workflow_api_json`, `overrides` and `object_info_url`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.runcomfy_wire import JsonDict, iso


@dataclass(frozen=True)
class HardwareTier:
    sku: str
    machine_type: str
    gpus: str
    vram_gb: int
    usd_per_hour: float
    """Pay-as-you-go (Hobby) rate."""
    pro_usd_per_hour: float

    @property
    def usd_per_second(self) -> float:
        return self.usd_per_hour / 3600


HARDWARE: dict[str, HardwareTier] = {
    tier.sku: tier
    for tier in (
        HardwareTier("TURING_16", "Medium", "T4, A4000", 16, 0.99, 0.79),
        HardwareTier("AMPERE_24", "Large", "A10G, A5000", 24, 1.75, 1.39),
        HardwareTier("AMPERE_48", "X-Large", "A6000", 48, 2.50, 1.99),
        HardwareTier("ADA_48_PLUS", "X-Large Plus", "L40S, L40", 48, 2.99, 2.15),
        HardwareTier("AMPERE_80", "2X-Large", "A100", 80, 4.99, 3.99),
        HardwareTier("ADA_80_PLUS", "2X-Large Plus", "H100", 80, 7.49, 5.99),
        HardwareTier("HOPPER_141", "3X-Large", "H200", 141, 8.75, 6.99),
    )
}
"""SKUs from https://docs.runcomfy.com/mcp/tool-reference; machine types and hourly prices
from https://docs.runcomfy.com/serverless/about-billing (H200 row from
https://docs.runcomfy.com/serverless-lora/about-billing). Billing is per second of instance
uptime (cold start, execution and keep-warm), so per-second rate = hourly / 3600."""

TXT2IMG_DEPLOYMENT_ID = "6b1f0c2e-8d4a-4f7e-9a35-1c2d3e4f5a60"
IMG2IMG_DEPLOYMENT_ID = "0a9e8d7c-6b5a-4c3d-8e2f-7a6b5c4d3e21"
DISABLED_DEPLOYMENT_ID = "f3e2d1c0-b9a8-4765-8432-10fedcba9876"
"""`is_enabled: false`: inference answers HTTP 200 with error_code 10002."""

_CATALOG_TIME = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def _node(class_type: str, title: str, **inputs: Any) -> JsonDict:
    return {"class_type": class_type, "inputs": inputs, "_meta": {"title": title}}


def _checkpoint() -> JsonDict:
    return _node(
        "CheckpointLoaderSimple", "Load Checkpoint", ckpt_name="sd_xl_base_1.0.safetensors"
    )


def _prompts(text: str) -> dict[str, JsonDict]:
    return {
        "6": _node("CLIPTextEncode", "Positive Prompt", text=text, clip=["4", 1]),
        "7": _node("CLIPTextEncode", "Negative Prompt", text="blurry, low quality", clip=["4", 1]),
    }


def txt2img_graph() -> JsonDict:
    return {
        "3": _node(
            "KSampler",
            "KSampler",
            seed=42,
            steps=20,
            cfg=7.0,
            sampler_name="euler",
            scheduler="normal",
            denoise=1.0,
            model=["4", 0],
            positive=["6", 0],
            negative=["7", 0],
            latent_image=["5", 0],
        ),
        "4": _checkpoint(),
        "5": _node("EmptyLatentImage", "Empty Latent Image", width=512, height=512, batch_size=1),
        **_prompts("a cozy cabin in a snowy forest"),
        "8": _node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["4", 2]),
        "9": _node("SaveImage", "Save Image", filename_prefix="ComfyUI", images=["8", 0]),
    }


def img2img_graph() -> JsonDict:
    return {
        "3": _node(
            "KSampler",
            "KSampler",
            seed=7,
            steps=20,
            cfg=6.5,
            sampler_name="euler",
            scheduler="normal",
            denoise=0.6,
            model=["4", 0],
            positive=["6", 0],
            negative=["7", 0],
            latent_image=["11", 0],
        ),
        "4": _checkpoint(),
        **_prompts("the same scene as a watercolor painting"),
        "8": _node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["4", 2]),
        "9": _node("SaveImage", "Save Image", filename_prefix="ComfyUI", images=["8", 0]),
        "10": _node("LoadImage", "Load Image", image="example.png"),
        "11": _node("VAEEncode", "VAE Encode", pixels=["10", 0], vae=["4", 2]),
    }


def _exposed(graph: JsonDict, picks: dict[str, list[str]]) -> JsonDict:
    """The `payload.overrides` chosen when deploying: current values of the picked inputs."""
    return {
        node_id: {"inputs": {name: graph[node_id]["inputs"][name] for name in names}}
        for node_id, names in picks.items()
    }


@dataclass
class FakeDeployment:
    id: str
    name: str
    workflow_api_json: JsonDict
    overrides: JsonDict
    hardware: str = "AMPERE_24"
    workflow_id: str = "00000000-0000-4000-8000-000000000001"
    workflow_version: str = "v1"
    min_instances: int = 0
    max_instances: int = 1
    queue_size: int = 1
    keep_warm_duration_in_seconds: int = 60
    status: str = "standby"
    is_enabled: bool = True
    readme: str = ""
    created_at: datetime = _CATALOG_TIME
    updated_at: datetime = _CATALOG_TIME
    gating_error: tuple[int, str] | None = None
    """Set to e.g. `(10001, "InsufficientFunds")` to refuse inference with HTTP 200."""
    extra: JsonDict = field(default_factory=dict)

    def graph(self) -> JsonDict:
        """A private copy of the saved graph, for one request to patch."""
        return copy.deepcopy(self.workflow_api_json)

    def to_json(self, root_url: str, includes: set[str]) -> JsonDict:
        body: JsonDict = {
            "id": self.id,
            "name": self.name,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "hardware": [self.hardware],
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "queue_size": self.queue_size,
            "keep_warm_duration_in_seconds": self.keep_warm_duration_in_seconds,
            "status": self.status,
            "is_enabled": self.is_enabled,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            **self.extra,
        }
        if "payload" in includes:
            body["payload"] = {
                "workflow_api_json": copy.deepcopy(self.workflow_api_json),
                "overrides": copy.deepcopy(self.overrides),
                "object_info_url": f"{root_url}/object_info/{self.id}.json",
            }
        if "readme" in includes:
            body["readme"] = self.readme
        return body


def default_deployments() -> dict[str, FakeDeployment]:
    txt2img, img2img = txt2img_graph(), img2img_graph()
    deployments = [
        FakeDeployment(
            TXT2IMG_DEPLOYMENT_ID,
            "txt2img",
            txt2img,
            _exposed(txt2img, {"6": ["text"], "3": ["seed", "steps"], "5": ["width", "height"]}),
            hardware="AMPERE_24",
            readme="# txt2img\nPrompt in node 6, seed in node 3.",
        ),
        FakeDeployment(
            IMG2IMG_DEPLOYMENT_ID,
            "img2img",
            img2img,
            _exposed(img2img, {"10": ["image"], "6": ["text"], "3": ["denoise"]}),
            hardware="ADA_48_PLUS",
        ),
        FakeDeployment(
            DISABLED_DEPLOYMENT_ID,
            "disabled-txt2img",
            txt2img_graph(),
            _exposed(txt2img, {"6": ["text"]}),
            is_enabled=False,
            gating_error=(10002, "DisabledDeployment"),
        ),
    ]
    return {d.id: d for d in deployments}


def _int(default: int, low: int, high: int) -> list[Any]:
    return ["INT", {"default": default, "min": low, "max": high}]


def _float(default: float, low: float, high: float, step: float) -> list[Any]:
    return ["FLOAT", {"default": default, "min": low, "max": high, "step": step}]


OBJECT_INFO: JsonDict = {
    "CheckpointLoaderSimple": {
        "input": {"required": {"ckpt_name": [["sd_xl_base_1.0.safetensors"], {}]}},
        "output": ["MODEL", "CLIP", "VAE"],
        "output_node": False,
    },
    "CLIPTextEncode": {
        "input": {"required": {"text": ["STRING", {"multiline": True}], "clip": ["CLIP", {}]}},
        "output": ["CONDITIONING"],
        "output_node": False,
    },
    "EmptyLatentImage": {
        "input": {
            "required": {
                "width": _int(512, 16, 16384),
                "height": _int(512, 16, 16384),
                "batch_size": _int(1, 1, 4096),
            }
        },
        "output": ["LATENT"],
        "output_node": False,
    },
    "KSampler": {
        "input": {
            "required": {
                "model": ["MODEL", {}],
                "seed": _int(0, 0, 2**64 - 1),
                "steps": _int(20, 1, 10000),
                "cfg": _float(8.0, 0.0, 100.0, 0.1),
                "sampler_name": [["euler", "euler_ancestral", "dpmpp_2m"], {}],
                "scheduler": [["normal", "karras"], {}],
                "positive": ["CONDITIONING", {}],
                "negative": ["CONDITIONING", {}],
                "latent_image": ["LATENT", {}],
                "denoise": _float(1.0, 0.0, 1.0, 0.01),
            }
        },
        "output": ["LATENT"],
        "output_node": False,
    },
    "LoadImage": {
        "input": {"required": {"image": [["example.png"], {"image_upload": True}]}},
        "output": ["IMAGE", "MASK"],
        "output_node": False,
    },
    "VAEEncode": {
        "input": {"required": {"pixels": ["IMAGE", {}], "vae": ["VAE", {}]}},
        "output": ["LATENT"],
        "output_node": False,
    },
    "VAEDecode": {
        "input": {"required": {"samples": ["LATENT", {}], "vae": ["VAE", {}]}},
        "output": ["IMAGE"],
        "output_node": False,
    },
    "SaveImage": {
        "input": {
            "required": {"images": ["IMAGE", {}], "filename_prefix": ["STRING", {"default": ""}]}
        },
        "output": [],
        "output_node": True,
    },
}
"""A ComfyUI `/object_info` subset for the classes the built-in graphs use."""


def object_info_for(graph: JsonDict) -> JsonDict:
    classes = {node.get("class_type") for node in graph.values() if isinstance(node, dict)}
    return {name: info for name, info in OBJECT_INFO.items() if name in classes}
