"""Score an unpaired translator (cycle PSNR, judged domain, FID): the old entry point,
``python -m training.evaluate_translation``.

The code lives in :mod:`training.evaluation.translation`;
``python -m training.evaluation.translation`` is the canonical form and takes the same flags.
"""

from training.evaluation.translation import main

if __name__ == "__main__":
    raise SystemExit(main())
