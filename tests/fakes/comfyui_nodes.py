"""The node classes the fake ComfyUI knows: their schema (`INPUT_TYPES`, `RETURN_TYPES`, ...)
and what running one yields, with tensors replaced by small stand-ins and real Pillow images.

Schemas copy ComfyUI's `nodes.py`, `comfy_extras/nodes_primitive.py` and `nodes_sd3.py`
(https://github.com/comfyanonymous/ComfyUI/blob/master/nodes.py); `GET /object_info` renders
them the way `server.py`'s `node_info` does. `FakeRaiseError` is the fake's own node: it raises
its `message`, to produce real execution errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.comfyui_files import FileStore, colour_for

JsonDict = dict[str, Any]
InputTypes = dict[str, dict[str, Any]]
MAX_RESOLUTION = 16384
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "lms", "dpmpp_2m", "dpmpp_sde", "ddim"]
SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal"]
UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
DEFAULT_CHECKPOINTS = ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"]


@dataclass(frozen=True)
class Loaded:
    """A MODEL, CLIP or VAE loaded from a checkpoint."""

    kind: str
    ckpt: str

    def __str__(self) -> str:
        return f"<{self.kind} {self.ckpt}>"


@dataclass(frozen=True)
class Conditioning:
    text: str


@dataclass(eq=False)
class ImageBatch:
    frames: list[Image.Image]

    def __str__(self) -> str:
        width, height = self.frames[0].size
        return f"<IMAGE {len(self.frames)}x{width}x{height}>"


@dataclass(eq=False)
class Latent:
    width: int
    height: int
    batch: int
    seed: int | None = None
    text: str = ""
    source: ImageBatch | None = None
    denoise: float = 1.0

    def __str__(self) -> str:
        return f"<LATENT {self.batch}x{self.width}x{self.height}>"


@dataclass
class Environment:
    """What a running node may touch: the folders, the checkpoint names, the graph (for PNG
    metadata) and a counter for PreviewImage's random-looking prefix."""

    files: FileStore
    checkpoints: list[str]
    graph: JsonDict | None = None
    temp_prefixes: int = 0


@dataclass
class NodeOutput:
    result: tuple[Any, ...]
    ui: JsonDict | None = None


@dataclass
class NodeClass:
    name: str
    display_name: str
    category: str
    input_types: Callable[[Environment], InputTypes]
    outputs: tuple[str, ...]
    run: Callable[..., NodeOutput]
    output_node: bool = False
    output_names: tuple[str, ...] | None = None
    description: str = ""
    python_module: str = "nodes"
    validate: Callable[..., bool | str] | None = None
    """VALIDATE_INPUTS: replaces the combo/min/max checks of the inputs it names."""
    validated_inputs: tuple[str, ...] = ()
    is_changed: Callable[..., str] | None = None
    progress_steps: Callable[[JsonDict], int] = field(default=lambda inputs: 0)

    def info(self, env: Environment) -> JsonDict:
        types = self.input_types(env)
        return {
            "input": {
                kind: {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()}
                for kind, spec in types.items()
            },
            "input_order": {kind: list(spec) for kind, spec in types.items()},
            "is_input_list": False,
            "output": list(self.outputs),
            "output_is_list": [False] * len(self.outputs),
            "output_name": list(self.output_names or self.outputs),
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "python_module": self.python_module,
            "category": self.category,
            "output_node": self.output_node,
            "has_intermediate_output": False,
            "search_aliases": [],
        }


def _int(default: int, lo: int, hi: int, step: int | None = None, **extra: Any) -> tuple[Any, ...]:
    opts: JsonDict = {"default": default, "min": lo, "max": hi, **extra}
    if step is not None:
        opts["step"] = step
    return ("INT", opts)


def _image_batch(frames: list[Image.Image]) -> ImageBatch:
    return ImageBatch([frame.convert("RGB") for frame in frames])


def _checkpoint(env: Environment, ckpt_name: str) -> NodeOutput:
    return NodeOutput(
        (Loaded("MODEL", ckpt_name), Loaded("CLIP", ckpt_name), Loaded("VAE", ckpt_name))
    )


def _empty_latent(env: Environment, width: int, height: int, batch_size: int) -> NodeOutput:
    return NodeOutput((Latent(width, height, batch_size),))


def _sample(env: Environment, **inputs: Any) -> NodeOutput:
    latent: Latent = inputs["latent_image"]
    positive: Conditioning = inputs["positive"]
    out = Latent(
        latent.width,
        latent.height,
        latent.batch,
        seed=inputs["seed"],
        text=positive.text,
        source=latent.source,
        denoise=inputs["denoise"],
    )
    return NodeOutput((out,))


def _decode(env: Environment, samples: Latent, vae: Loaded) -> NodeOutput:
    frames = []
    for i in range(samples.batch):
        if samples.seed is None:
            frame = Image.new("RGB", (samples.width, samples.height), (0, 0, 0))
        else:
            colour = colour_for(samples.seed + i, samples.text)
            frame = Image.new("RGB", (samples.width, samples.height), colour)
        if samples.source is not None:
            source = samples.source.frames[min(i, len(samples.source.frames) - 1)]
            source = source.resize((samples.width, samples.height))
            frame = Image.blend(source, frame, max(0.0, min(1.0, samples.denoise)))
        frames.append(frame)
    return NodeOutput((ImageBatch(frames),))


def _encode(env: Environment, pixels: ImageBatch, vae: Loaded) -> NodeOutput:
    width, height = pixels.frames[0].size
    return NodeOutput((Latent(width, height, len(pixels.frames), source=pixels),))


def _save(env: Environment, images: ImageBatch, filename_prefix: str = "ComfyUI") -> NodeOutput:
    results = env.files.save_images("output", filename_prefix, images.frames, env.graph)
    return NodeOutput((), {"images": results})


def _preview(env: Environment, images: ImageBatch) -> NodeOutput:
    env.temp_prefixes += 1
    letters = "".join(
        "abcdefghijklmnopqrstupvxyz"[(env.temp_prefixes * 7 + k) % 26] for k in range(5)
    )
    results = env.files.save_images("temp", f"ComfyUI_temp_{letters}", images.frames, env.graph)
    return NodeOutput((), {"images": results})


def _load_image(env: Environment, image: str) -> NodeOutput:
    from io import BytesIO

    with Image.open(BytesIO(env.files.read_annotated(image))) as picture:
        frame = picture.convert("RGB")
    return NodeOutput((ImageBatch([frame]), "<MASK>"))


def _scale(
    env: Environment, image: ImageBatch, upscale_method: str, width: int, height: int, crop: str
) -> NodeOutput:
    w0, h0 = image.frames[0].size
    if width == 0 and height == 0:
        return NodeOutput((image,))
    width = width or max(1, round(w0 * height / h0))
    height = height or max(1, round(h0 * width / w0))
    return NodeOutput((_image_batch([f.resize((width, height)) for f in image.frames]),))


def _scale_by(
    env: Environment, image: ImageBatch, upscale_method: str, scale_by: float
) -> NodeOutput:
    frames = [
        f.resize((max(1, round(f.width * scale_by)), max(1, round(f.height * scale_by))))
        for f in image.frames
    ]
    return NodeOutput((_image_batch(frames),))


def _raise(env: Environment, images: ImageBatch, message: str) -> NodeOutput:
    raise RuntimeError(message)


def _primitive(env: Environment, value: Any) -> NodeOutput:
    return NodeOutput((value,))


def _load_image_valid(env: Environment, image: str) -> bool | str:
    return True if env.files.exists_annotated(image) else f"Invalid image file: {image}"


def _load_image_changed(env: Environment, image: str) -> str:
    import hashlib

    return hashlib.sha256(env.files.read_annotated(image)).hexdigest()


def _primitive_class(name: str, display: str, kind: str, opts: JsonDict) -> NodeClass:
    return NodeClass(
        name,
        display,
        "utils/primitive",
        lambda env: {"required": {"value": (kind, dict(opts))}},
        (kind,),
        _primitive,
        python_module="comfy_extras.nodes_primitive",
    )


def _latent_inputs(default: int, step: int) -> Callable[[Environment], InputTypes]:
    def types(env: Environment) -> InputTypes:
        return {
            "required": {
                "width": _int(default, 16, MAX_RESOLUTION, step),
                "height": _int(default, 16, MAX_RESOLUTION, step),
                "batch_size": _int(1, 1, 4096),
            }
        }

    return types


def _ksampler_inputs(env: Environment) -> InputTypes:
    return {
        "required": {
            "model": ("MODEL",),
            "seed": _int(0, 0, 0xFFFFFFFFFFFFFFFF, control_after_generate=True),
            "steps": _int(20, 1, 10000),
            "cfg": (
                "FLOAT",
                {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01},
            ),
            "sampler_name": (SAMPLERS,),
            "scheduler": (SCHEDULERS,),
            "positive": ("CONDITIONING",),
            "negative": ("CONDITIONING",),
            "latent_image": ("LATENT",),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}),
        }
    }


def _steps(inputs: JsonDict) -> int:
    return int(inputs.get("steps", 0)) if isinstance(inputs.get("steps"), int) else 0


NODE_CLASSES: dict[str, NodeClass] = {
    node.name: node
    for node in [
        NodeClass(
            "CheckpointLoaderSimple",
            "Load Checkpoint",
            "loaders",
            lambda env: {"required": {"ckpt_name": (list(env.checkpoints),)}},
            ("MODEL", "CLIP", "VAE"),
            _checkpoint,
            description="Loads a diffusion model checkpoint.",
        ),
        NodeClass(
            "CLIPTextEncode",
            "CLIP Text Encode (Prompt)",
            "conditioning",
            lambda env: {
                "required": {
                    "text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
                    "clip": ("CLIP",),
                }
            },
            ("CONDITIONING",),
            lambda env, text, clip: NodeOutput((Conditioning(text),)),
        ),
        NodeClass(
            "EmptyLatentImage",
            "Empty Latent Image",
            "latent",
            _latent_inputs(512, 8),
            ("LATENT",),
            _empty_latent,
        ),
        NodeClass(
            "EmptySD3LatentImage",
            "EmptySD3LatentImage",
            "latent/sd3",
            _latent_inputs(1024, 16),
            ("LATENT",),
            _empty_latent,
            python_module="comfy_extras.nodes_sd3",
        ),
        NodeClass(
            "KSampler",
            "KSampler",
            "sampling",
            _ksampler_inputs,
            ("LATENT",),
            _sample,
            progress_steps=_steps,
        ),
        NodeClass(
            "VAEDecode",
            "VAE Decode",
            "latent",
            lambda env: {"required": {"samples": ("LATENT",), "vae": ("VAE",)}},
            ("IMAGE",),
            _decode,
        ),
        NodeClass(
            "VAEEncode",
            "VAE Encode",
            "latent",
            lambda env: {"required": {"pixels": ("IMAGE",), "vae": ("VAE",)}},
            ("LATENT",),
            _encode,
        ),
        NodeClass(
            "SaveImage",
            "Save Image",
            "image",
            lambda env: {
                "required": {
                    "images": ("IMAGE",),
                    "filename_prefix": ("STRING", {"default": "ComfyUI"}),
                },
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
            },
            (),
            _save,
            output_node=True,
        ),
        NodeClass(
            "PreviewImage",
            "Preview Image",
            "image",
            lambda env: {"required": {"images": ("IMAGE",)}},
            (),
            _preview,
            output_node=True,
        ),
        NodeClass(
            "LoadImage",
            "Load Image",
            "image",
            lambda env: {
                "required": {"image": (env.files.listing("input"), {"image_upload": True})}
            },
            ("IMAGE", "MASK"),
            _load_image,
            validate=_load_image_valid,
            validated_inputs=("image",),
            is_changed=_load_image_changed,
        ),
        NodeClass(
            "ImageScale",
            "Upscale Image",
            "image/upscaling",
            lambda env: {
                "required": {
                    "image": ("IMAGE",),
                    "upscale_method": (UPSCALE_METHODS,),
                    "width": _int(512, 0, MAX_RESOLUTION, 1),
                    "height": _int(512, 0, MAX_RESOLUTION, 1),
                    "crop": (["disabled", "center"],),
                }
            },
            ("IMAGE",),
            _scale,
        ),
        NodeClass(
            "ImageScaleBy",
            "Upscale Image By",
            "image/upscaling",
            lambda env: {
                "required": {
                    "image": ("IMAGE",),
                    "upscale_method": (UPSCALE_METHODS,),
                    "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}),
                }
            },
            ("IMAGE",),
            _scale_by,
        ),
        _primitive_class("PrimitiveString", "String", "STRING", {}),
        _primitive_class(
            "PrimitiveStringMultiline", "String (Multiline)", "STRING", {"multiline": True}
        ),
        _primitive_class(
            "PrimitiveInt",
            "Int",
            "INT",
            {"min": -sys.maxsize, "max": sys.maxsize, "control_after_generate": True},
        ),
        _primitive_class(
            "PrimitiveFloat", "Float", "FLOAT", {"min": -sys.maxsize, "max": sys.maxsize}
        ),
        _primitive_class("PrimitiveBoolean", "Boolean", "BOOLEAN", {}),
        NodeClass(
            "FakeRaiseError",
            "Raise Error (fake)",
            "_for_testing",
            lambda env: {
                "required": {
                    "images": ("IMAGE",),
                    "message": ("STRING", {"default": "Simulated failure"}),
                }
            },
            ("IMAGE",),
            _raise,
            description="Raises its message when executed (fake ComfyUI only).",
        ),
    ]
}
