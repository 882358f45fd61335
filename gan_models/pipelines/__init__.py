"""Diffusers-style inference pipelines, one module per family."""

from .faces import FaceGANPipeline, FaceGANPipelineOutput, save_animation
from .superres import SuperResolutionPipeline, SuperResolutionPipelineOutput

__all__ = [
    "FaceGANPipeline",
    "FaceGANPipelineOutput",
    "SuperResolutionPipeline",
    "SuperResolutionPipelineOutput",
    "save_animation",
]
