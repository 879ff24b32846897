"""Sphinx configuration of the skgebm documentation.

Build (from the repository root)::

    .ci/docs

which installs ``.[docs]`` and runs
``SKGEBM_EXAMPLES_FAST=1 sphinx-build -W -b html docs docs/_build/html``.

Environment variables:

``SKGEBM_EXAMPLES_FAST=1``
    The examples of the gallery shrink their work (fewer training iterations, smaller
    samples), so the whole build takes a few minutes on a CPU; figures and printed
    results are still produced, but they are not the ones a reader should judge the
    method by. Without it every example runs its real, published version.
``SKGEBM_DOCS_INTERSPHINX=1``
    Link to the scikit-learn, PyTorch, NumPy, SciPy and Python documentation. It reads
    their inventories over the network, so it is off by default: the build then never
    needs the network, and references to those projects render as plain text.

``sphinx-build -D plot_gallery=0`` builds the gallery pages without running the
examples at all (no figures), for a quick check of the text.
"""

import os

import skgebm

project = "skgebm"
author = "skgebm developers"
copyright = "skgebm developers, BSD-3-Clause"
version = release = skgebm.__version__

INTERSPHINX = os.environ.get("SKGEBM_DOCS_INTERSPHINX", "0") not in {"", "0"}

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")

templates_path = ["_templates"]
# benchmarks/: tables written by the benchmark scripts, included by benchmarks.rst
exclude_patterns = ["_build", "**.ipynb_checkpoints", "benchmarks"]
root_doc = "index"
default_role = "literal"

# -- API reference ---------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
# numpydoc renders the sections; autosummary writes one page per public object.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Every documented object needs a docstring with all its parameters, in order; a failed
# check is a warning, so an error under ``-W``.
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "PR03", "PR10"}
# the objectives' energy_loss overrides share the arguments documented once on
# EnergyObjective.energy_loss; their docstrings say only what each loss is
_OBJECTIVES = "KALE|NCE|ContrastiveDivergence|DenoisingScoreMatching|SlicedScoreMatching"
numpydoc_validation_exclude = {rf"\.({_OBJECTIVES})\.energy_loss$"}

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
}


# -- Gallery ---------------------------------------------------------------------------
class ExampleOrder:
    """Gallery order: the quick start first, then the stories in reading order."""

    order = [
        "plot_quickstart.py",
        "plot_digits.py",
        "plot_density_estimation.py",
        "plot_outlier_detection.py",
        "plot_temperature_search.py",
        "plot_samplers.py",
        "plot_objectives.py",
    ]

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        rank = self.order.index(filename) if filename in self.order else len(self.order)
        return rank, filename


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": ExampleOrder,
    "plot_gallery": True,
    "doc_module": ("skgebm",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skgebm": None},
    "remove_config_comments": True,
    "min_reported_time": 1,
    "download_all_examples": False,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skgebm {version}"
html_static_path = ["_static"]
html_css_files = ["skgebm.css"]
html_theme_options = {
    "logo": {"text": "skgebm"},
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = False

# The gallery's configuration holds a class; Sphinx cannot pickle it into its
# environment cache and says so, which is harmless.
suppress_warnings = ["config.cache"]
