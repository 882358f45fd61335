"""Score a super-resolution model (PSNR / SSIM): the old entry point, ``python -m training.evaluate_superres``.

The code lives in :mod:`training.evaluation.superres`;
``python -m training.evaluation.superres`` is the canonical form and takes the same flags.
"""

from training.evaluation.superres import main

if __name__ == "__main__":
    raise SystemExit(main())
