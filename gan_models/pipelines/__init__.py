"""Diffusers-style inference pipelines, one module per family."""

from .superres import SuperResolutionPipeline, SuperResolutionPipelineOutput

__all__ = ["SuperResolutionPipeline", "SuperResolutionPipelineOutput"]
