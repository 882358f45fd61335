"""Score a text-to-image GAN's text alignment: the old entry point, ``python -m training.evaluate_text2image``.

The code lives in :mod:`training.evaluation.text2image`;
``python -m training.evaluation.text2image`` is the canonical form and takes the same flags.
"""

from training.evaluation.text2image import main

if __name__ == "__main__":
    raise SystemExit(main())
