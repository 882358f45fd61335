"""Train or load the hair / eye colour judge: the old entry point, ``python -m training.attribute_classifier``.

The code lives in :mod:`training.evaluation.attribute_classifier`;
``python -m training.evaluation.attribute_classifier`` is the canonical form and takes the same flags.
"""

from training.evaluation.attribute_classifier import main

if __name__ == "__main__":
    raise SystemExit(main())
