"""Train or load the domain A vs B judge: the old entry point, ``python -m training.domain_classifier``.

The code lives in :mod:`training.evaluation.domain_classifier`;
``python -m training.evaluation.domain_classifier`` is the canonical form and takes the same flags.
"""

from training.evaluation.domain_classifier import main

if __name__ == "__main__":
    raise SystemExit(main())
