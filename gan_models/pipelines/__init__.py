"""Diffusers-style inference pipelines, one module per family."""

from .faces import FaceGANPipeline, FaceGANPipelineOutput, save_animation
from .superres import SuperResolutionPipeline, SuperResolutionPipelineOutput
from .translation import CycleGANPipeline, CycleGANPipelineOutput

__all__ = [
    "CycleGANPipeline",
    "CycleGANPipelineOutput",
    "FaceGANPipeline",
    "FaceGANPipelineOutput",
    "SuperResolutionPipeline",
    "SuperResolutionPipelineOutput",
    "save_animation",
]
