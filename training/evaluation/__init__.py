"""The evaluation wing: how a checkpoint is scored, by training's validation and by the command line.

One room per family's evaluation (each a CLI, ``python -m training.evaluation.<family>``, and the
functions a recipe validates with):

* :mod:`~training.evaluation.superres`: PSNR / SSIM on Set5 / Set14-style folders, the crop grid;
* :mod:`~training.evaluation.faces`: FID / KID, the memorisation check, the sample grid;
* :mod:`~training.evaluation.translation`: the report and card of a translator, computed in
  :mod:`~training.evaluation.translation_metrics` (cycle PSNR, target-domain share, FID / KID, grid);
* :mod:`~training.evaluation.text2image`: text alignment (hair / eye colour accuracy per phrasing).

The judges, small CNNs trained by us on the train split only (never the generator's own discriminator):

* :mod:`~training.evaluation.judge`: what they share (trunk, training loop, augmentation, cache);
* :mod:`~training.evaluation.domain_classifier`: domain A vs B, for translation;
* :mod:`~training.evaluation.attribute_classifier`: hair and eye colour, for text-to-image.

One room per metric family:

* :mod:`~training.evaluation.psnr_ssim`: Y-channel PSNR / SSIM as the published SR tables compute them,
  and the RGB PSNR of translation round trips;
* :mod:`~training.evaluation.fid`: FID / KID and their feature networks (seeded random net, Inception);
* :mod:`~training.evaluation.memorisation`: nearest-training-image distances (does a generator copy?);
* :mod:`~training.evaluation.images`: the uint8 image batches they all take, and a generator's output
  turned into one.

Mode coverage (modes captured, % high quality, reverse KL of the 2-D toy GANs) is not here: it serves
the GAN Lab, whose Space deploys without ``training/``, so it lives in :mod:`gan_models.lab.mode_metrics`.

The old entry points (``python -m training.evaluate_<family>``, ``python -m training.domain_classifier``,
``python -m training.attribute_classifier``) still work: each is a thin file that runs the ``main`` here.
"""
