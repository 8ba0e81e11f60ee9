"""cvcourse: the helper package of the open course on deep learning for computer vision.

Each module holds one concern:

- :mod:`cvcourse.profile`  - the ``smoke``/``full`` profile, the size knob, ``pick()``/``pick_source()`` and seeding;
- :mod:`cvcourse.download` - checksummed, time-limited downloads into a cache;
- :mod:`cvcourse.sources`  - the registry of every real download (URL, sha256, credit) and the mirror setting;
- :mod:`cvcourse.data`     - MNIST, tf_flowers, Oxford-IIIT Pet, COCO captions (full profile) and sample photos;
- :mod:`cvcourse.checks`   - the check cells that grade exercises and publish headline figures;
- :mod:`cvcourse.viz`      - image grids, feature maps, filters and training curves;
- :mod:`cvcourse.build`    - the course build: student notebooks, solution notebooks;
- :mod:`cvcourse.grade`    - grading of submitted notebooks with the masters' checks (`make grade`).

Example:
    >>> from cvcourse import pick
    >>> epochs = pick(smoke=2, full=15)
"""

from cvcourse.profile import PROFILE_ENV, current_profile, pick, seed_everything

__version__ = "0.1.0"

#: The public repository of the course, kept in this one place. Student notebooks
#: install ``cvcourse`` from it on Colab, and their "Open in Colab" badges point into it.
REPO_URL = "https://github.com/cvcourse/cvcourse"

__all__ = ["PROFILE_ENV", "REPO_URL", "current_profile", "pick", "seed_everything", "__version__"]
