"""Score a face GAN (FID / KID, memorisation, grid): the old entry point, ``python -m training.evaluate_faces``.

The code lives in :mod:`training.evaluation.faces`;
``python -m training.evaluation.faces`` is the canonical form and takes the same flags.
"""

from training.evaluation.faces import main

if __name__ == "__main__":
    raise SystemExit(main())
