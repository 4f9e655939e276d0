"""ViTPain as plain ``nn.Module``s: DINOv3 backbone, LoRA, reference cross-attention, heads.

Public API::

    from pain3d.model import ViTPainConfig, build_model, vitpain_loss, save_checkpoint
    model = build_model(ViTPainConfig(preset="small", backbone_weights="path/to/dinov3"))
    out = model(model.normalize(image), neutral=model.normalize(neutral))
    out.pspi, out.au, out.binary_logits

    model = pain3d.load_model("checkpoint_dir")      # eval mode, preprocessing included

Modules: ``config`` (ViTPainConfig), ``backbone`` (DINOv3 via transformers, optional timm),
``lora`` (peft adapters), ``attention`` (reference cross-attention), ``heads``, ``vitpain``
(the model), ``loss``, ``distill`` (heatmap teacher), ``checkpoint`` (safetensors + JSON),
``convert`` (published Lightning checkpoints; ``pain3d convert-checkpoint``), ``inference``
(merged adapters, bf16, allocator settings for fast prediction).
"""

from pain3d.model.backbone import HUB_IDS, PRESETS
from pain3d.model.checkpoint import load_model, read_checkpoint_config, save_checkpoint
from pain3d.model.config import LoraAdapterConfig, ViTPainConfig
from pain3d.model.distill import DistillConfig, HeatmapTeacher
from pain3d.model.inference import keep_freed_memory, prepare_for_inference
from pain3d.model.loss import LossWeights, vitpain_loss
from pain3d.model.vitpain import ViTPain, ViTPainOutput, build_model

__all__ = [
    "HUB_IDS",
    "DistillConfig",
    "HeatmapTeacher",
    "PRESETS",
    "LoraAdapterConfig",
    "LossWeights",
    "ViTPain",
    "ViTPainConfig",
    "ViTPainOutput",
    "build_model",
    "keep_freed_memory",
    "load_model",
    "prepare_for_inference",
    "read_checkpoint_config",
    "save_checkpoint",
    "vitpain_loss",
]
