"""API-format graphs for tests, shaped like ComfyUI's default workflows exported "for API".

Node ids follow the default txt2img workflow (4 checkpoint, 5 latent, 6/7 prompts, 3 sampler,
8 decode, 9 save); img2img adds 10 LoadImage and 11 VAEEncode.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.comfyui_nodes import DEFAULT_CHECKPOINTS, JsonDict


def txt2img(
    prompt: str = "a red fox",
    *,
    seed: int = 7,
    steps: int = 4,
    width: int = 64,
    height: int = 64,
    batch_size: int = 1,
    negative: str = "blurry",
    ckpt: str = DEFAULT_CHECKPOINTS[1],
    prefix: str = "ComfyUI",
) -> JsonDict:
    return {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": steps,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
            "_meta": {"title": "KSampler"},
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": width, "height": height, "batch_size": batch_size},
        },
        "6": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": prompt, "clip": ["4", 1]},
            "_meta": {"title": "Positive"},
        },
        "7": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": negative, "clip": ["4", 1]},
            "_meta": {"title": "Negative"},
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {
            "class_type": "SaveImage",
            "inputs": {"filename_prefix": prefix, "images": ["8", 0]},
        },
    }


def img2img(
    image: Any, prompt: str = "a watercolor fox", *, seed: int = 11, denoise: float = 0.5
) -> JsonDict:
    """`image` goes into LoadImage: a filename, or a Comfy API v2 `core/ASSET` reference."""
    graph = txt2img(prompt, seed=seed)
    del graph["5"]
    graph["10"] = {"class_type": "LoadImage", "inputs": {"image": image}}
    graph["11"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}
    graph["3"]["inputs"].update({"latent_image": ["11", 0], "denoise": denoise})
    return graph


def failing(message: str = "Simulated failure", prompt: str = "a red fox") -> JsonDict:
    """txt2img with FakeRaiseError between decode and save: fails at node "12"."""
    graph = txt2img(prompt)
    graph["12"] = {
        "class_type": "FakeRaiseError",
        "inputs": {"images": ["8", 0], "message": message},
    }
    graph["9"]["inputs"]["images"] = ["12", 0]
    return graph


def asset_ref(asset_id: str) -> JsonDict:
    """The Comfy API v2 reference to an uploaded asset, put where a filename would go."""
    return {"__type": "core/ASSET", "info": {"id": asset_id}}
