"""The simulator's built-in deployments, machines and GPU price list, rendered as v2 JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.simulator.wire import JsonDict, iso_naive, iso_z

SIM_USER_ID = "user_simulator"

TXT2IMG_DEPLOYMENT_ID = "92fff8b9-d9f3-5488-9cc8-09594e1923d6"
IMG2IMG_DEPLOYMENT_ID = "5cbd03c5-a597-51a4-906b-886380274e09"
UPSCALE_DEPLOYMENT_ID = "48433dff-5851-567e-bb22-93568c5a06ac"
"""A fluid deployment (`modal_image_id` set): listed only under `?is_fluid=true`."""

TXT2IMG_MACHINE_ID = "5a2e8351-75d7-58a5-bb61-b1221f3e9636"
IMG2IMG_MACHINE_ID = "34fc0ab0-32dd-5454-aa6b-6d05ef7c5956"
UPSCALE_MACHINE_ID = "41dcbc14-5c23-5c42-bd5e-57c03bbf1903"

GPU_PRICING: dict[str, float] = {
    "CPU": 0.000042,
    "T4": 0.000180,
    "L4": 0.000320,
    "A10G": 0.000337,
    "L40S": 0.000596,
    "A100": 0.001140,
    "A100-80GB": 0.001708,
    "H100": 0.002338,
    "H200": 0.001891,
    "B200": 0.002604,
}
"""`GET /api/platform/gpu-pricing`: USD per GPU-second, as ComfyDeploy's server publishes it."""

_CATALOG_TIME = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)

_TYPE_OF_CLASS: dict[str, str] = {
    "ComfyUIDeployExternalText": "string",
    "ComfyUIDeployExternalImage": "string",
    "ComfyUIDeployExternalEnum": "string",
    "ComfyUIDeployExternalNumber": "float",
    "ComfyUIDeployExternalNumberSlider": "float",
    "ComfyUIDeployExternalNumberInt": "integer",
    "ComfyUIDeployExternalNumberSliderInt": "integer",
    "ComfyUIDeployExternalBoolean": "boolean",
}


@dataclass(frozen=True)
class InputDef:
    """One external input node of a workflow."""

    input_id: str
    class_type: str
    default_value: Any
    display_name: str = ""
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    enum_options: list[str] | None = None
    description: str = ""

    def to_json(self) -> JsonDict:
        return {
            "type": _TYPE_OF_CLASS[self.class_type],
            "class_type": self.class_type,
            "input_id": self.input_id,
            "default_value": self.default_value,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "display_name": self.display_name,
            "description": self.description,
            "enum_options": self.enum_options,
            "step": self.step,
        }


@dataclass(frozen=True)
class MachineDef:
    id: str
    name: str
    gpu: str

    def summary_json(self) -> JsonDict:
        """An item of `GET /api/machines` (datetimes without `Z`)."""
        return {
            "id": self.id,
            "user_id": SIM_USER_ID,
            "name": self.name,
            "created_at": iso_naive(_CATALOG_TIME),
            "updated_at": iso_naive(_CATALOG_TIME),
            "type": "comfy-deploy-serverless",
            "org_id": None,
            "status": "ready",
            "gpu": self.gpu,
            "machine_version": None,
            "machine_builder_version": "4",
            "comfyui_version": "v0.3.40",
            "import_failed_logs": None,
            "machine_version_id": None,
            "is_workspace": False,
        }

    def detail_json(self) -> JsonDict:
        """`GET /api/machine/{id}`: the summary plus the runtime settings."""
        return {
            **self.summary_json(),
            "endpoint": f"https://sim.invalid/machines/{self.id}",
            "concurrency_limit": 2,
            "run_timeout": 300,
            "idle_timeout": 60,
            "keep_warm": 0,
            "allow_concurrent_inputs": 1,
            "python_version": "3.11",
            "disabled": False,
        }


@dataclass(frozen=True)
class DeploymentDef:
    id: str
    workflow_id: str
    workflow_version_id: str
    workflow_name: str
    description: str
    machine: MachineDef
    inputs: tuple[InputDef, ...]
    modal_image_id: str | None = None
    environment: str = "production"
    updated_at: datetime = field(default=_CATALOG_TIME)

    @property
    def gpu(self) -> str:
        return self.machine.gpu

    @property
    def is_fluid(self) -> bool:
        return self.modal_image_id is not None

    def defaults(self) -> dict[str, Any]:
        return {i.input_id: i.default_value for i in self.inputs}

    def workflow_api(self) -> JsonDict:
        """A small `workflow_api` graph: the external input nodes plus an output node."""
        nodes: JsonDict = {}
        for number, spec in enumerate(self.inputs, start=10):
            widgets: JsonDict = {"input_id": spec.input_id, "default_value": spec.default_value}
            if spec.min_value is not None:
                widgets["min_value"] = spec.min_value
                widgets["max_value"] = spec.max_value
            if spec.enum_options is not None:
                widgets["options"] = json.dumps(spec.enum_options)
            nodes[str(number)] = {"class_type": spec.class_type, "inputs": widgets}
        nodes["9"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI"}}
        return nodes

    def to_json(self) -> JsonDict:
        """A DeploymentModel (https://github.com/comfy-deploy/api/blob/main/src/api/routes/deployments.py)."""
        created = iso_z(_CATALOG_TIME)
        return {
            "id": self.id,
            "user_id": SIM_USER_ID,
            "org_id": None,
            "workflow_version_id": self.workflow_version_id,
            "workflow_id": self.workflow_id,
            "machine_id": self.machine.id,
            "share_slug": None,
            "description": self.description,
            "share_options": None,
            "showcase_media": None,
            "environment": self.environment,
            "created_at": created,
            "updated_at": iso_z(self.updated_at),
            "workflow": {"id": self.workflow_id, "name": self.workflow_name, "cover_url": None},
            "version": {
                "id": self.workflow_version_id,
                "workflow_id": self.workflow_id,
                "workflow": None,
                "workflow_api": self.workflow_api(),
                "user_id": SIM_USER_ID,
                "comment": "simulator",
                "version": 1,
                "snapshot": None,
                "dependencies": None,
                "created_at": created,
                "updated_at": created,
            },
            "machine": self.machine.detail_json(),
            "input_types": [i.to_json() for i in self.inputs],
            "output_types": [
                {"class_type": "ComfyDeployStdOutputImage", "output_id": "final_result"}
            ],
            "dub_link": None,
            "gpu": self.gpu,
            "machine_version_id": None,
            "modal_image_id": self.modal_image_id,
            "concurrency_limit": 2,
            "run_timeout": 300,
            "idle_timeout": 60,
            "keep_warm": 0,
            "activated_at": created,
            "modal_app_id": f"ap-{self.id[:8]}" if self.is_fluid else None,
        }


_TEXT = "ComfyUIDeployExternalText"
_IMAGE = "ComfyUIDeployExternalImage"
_INT = "ComfyUIDeployExternalNumberInt"
_SLIDER = "ComfyUIDeployExternalNumberSlider"
_SLIDER_INT = "ComfyUIDeployExternalNumberSliderInt"

MACHINES: tuple[MachineDef, ...] = (
    MachineDef(TXT2IMG_MACHINE_ID, "sim-txt2img", "A10G"),
    MachineDef(IMG2IMG_MACHINE_ID, "sim-img2img", "L4"),
    MachineDef(UPSCALE_MACHINE_ID, "sim-upscale", "T4"),
)

DEPLOYMENTS: tuple[DeploymentDef, ...] = (
    DeploymentDef(
        id=TXT2IMG_DEPLOYMENT_ID,
        workflow_id="108dbbe0-7b0d-5875-b34e-d8e68e9b8c15",
        workflow_version_id="9fb3af48-848a-5866-b1cd-e8aa16f9326b",
        workflow_name="txt2img",
        description="Text to image (simulated)",
        machine=MACHINES[0],
        inputs=(
            InputDef("prompt", _TEXT, "", "Prompt", description="What to draw"),
            InputDef("negative", _TEXT, "blurry", "Negative prompt"),
            InputDef("seed", _INT, 0, "Seed"),
            InputDef("steps", _SLIDER_INT, 20, "Steps", 1, 50, 1),
            InputDef("cfg", _SLIDER, 7, "CFG", 1, 15, 0.5),
            InputDef("width", _INT, 512, "Width"),
            InputDef("height", _INT, 512, "Height"),
            InputDef("batch_size", _SLIDER_INT, 1, "Batch size", 1, 10, 1),
            InputDef(
                "style",
                "ComfyUIDeployExternalEnum",
                "none",
                "Style",
                enum_options=["none", "watercolor", "photo", "anime"],
            ),
            InputDef("hires", "ComfyUIDeployExternalBoolean", False, "High resolution"),
        ),
        updated_at=datetime(2025, 5, 3, 12, 0, 0, tzinfo=UTC),
    ),
    DeploymentDef(
        id=IMG2IMG_DEPLOYMENT_ID,
        workflow_id="02a82067-6453-5645-b262-4181f568b1a0",
        workflow_version_id="f4db8df7-0f21-5c1a-a2a6-85d8c31374a1",
        workflow_name="img2img",
        description="Image to image (simulated)",
        machine=MACHINES[1],
        inputs=(
            InputDef("input_image", _IMAGE, "", "Input image"),
            InputDef("prompt", _TEXT, "", "Prompt"),
            InputDef("denoise", _SLIDER, 0.6, "Denoise", 0, 1, 0.05),
        ),
        updated_at=datetime(2025, 5, 2, 12, 0, 0, tzinfo=UTC),
    ),
    DeploymentDef(
        id=UPSCALE_DEPLOYMENT_ID,
        workflow_id="dc96e75b-8064-5965-944d-b0db90209c83",
        workflow_version_id="064db035-593a-5aea-b9c8-c7a4f887dc6c",
        workflow_name="upscale",
        description="Upscale an image (simulated, fluid deployment)",
        machine=MACHINES[2],
        inputs=(
            InputDef("input_image", _IMAGE, "", "Input image"),
            InputDef("scale", _SLIDER_INT, 2, "Scale", 1, 4, 1),
        ),
        modal_image_id="im-simulator-upscale",
    ),
)


def find_deployment(deployment_id: str) -> DeploymentDef | None:
    return next((d for d in DEPLOYMENTS if d.id == deployment_id), None)


def find_machine(machine_id: str) -> MachineDef | None:
    return next((m for m in MACHINES if m.id == machine_id), None)
