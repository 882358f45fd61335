"""gan_models: the networks and inference pipelines of the GAN demo hub.

No gradio and no accelerate here: Spaces and training import this package, never the reverse.

The model classes are exported at the top level on purpose: a saved pipeline's
``model_index.json`` names the library each component comes from, and loading imports it again,
so every class that can appear in a saved folder must be importable from here.

Example:
    >>> from gan_models import RRDBNet, SuperResolutionPipeline
    >>> pipe = SuperResolutionPipeline(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4))
    >>> pipe.scale
    4
"""

from .errors import (
    CheckpointFormatError,
    GanModelsError,
    ImageTooLargeError,
    InferenceOutOfMemoryError,
    InvalidImageError,
)
from .faces import StyleGAN2Discriminator, StyleGAN2Generator
from .pipelines import (
    CycleGANPipeline,
    CycleGANPipelineOutput,
    FaceGANPipeline,
    FaceGANPipelineOutput,
    SuperResolutionPipeline,
    SuperResolutionPipelineOutput,
    TextToImageGANPipeline,
    TextToImageGANPipelineOutput,
    save_animation,
)
from .superres import RRDBNet, SRVGGNetCompact, UNetDiscriminatorSN, upscale_factor
from .text2image import TextProjectionDiscriminator, TextToImageGenerator
from .translation import PatchDiscriminator, ResnetGenerator

__all__ = [
    "CheckpointFormatError",
    "CycleGANPipeline",
    "CycleGANPipelineOutput",
    "FaceGANPipeline",
    "FaceGANPipelineOutput",
    "GanModelsError",
    "ImageTooLargeError",
    "InferenceOutOfMemoryError",
    "InvalidImageError",
    "PatchDiscriminator",
    "RRDBNet",
    "ResnetGenerator",
    "SRVGGNetCompact",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "SuperResolutionPipeline",
    "SuperResolutionPipelineOutput",
    "TextProjectionDiscriminator",
    "TextToImageGANPipeline",
    "TextToImageGANPipelineOutput",
    "TextToImageGenerator",
    "UNetDiscriminatorSN",
    "save_animation",
    "upscale_factor",
]
