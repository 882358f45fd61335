"""Diffusers-style inference pipelines, one module per family."""

from .faces import FaceGANPipeline, FaceGANPipelineOutput, save_animation
from .superres import SuperResolutionPipeline, SuperResolutionPipelineOutput
from .text2image import TextToImageGANPipeline, TextToImageGANPipelineOutput
from .translation import CycleGANPipeline, CycleGANPipelineOutput

__all__ = [
    "CycleGANPipeline",
    "CycleGANPipelineOutput",
    "FaceGANPipeline",
    "FaceGANPipelineOutput",
    "SuperResolutionPipeline",
    "SuperResolutionPipelineOutput",
    "TextToImageGANPipeline",
    "TextToImageGANPipelineOutput",
    "save_animation",
]
