"""Sphinx configuration: the reference site of sklearn_bsq.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (after
``pip install -e ".[docs]"``). The example gallery runs at build time; the results
pages are generated from ``benchmarks/results/`` by ``_results_pages.py``.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # _results_pages

from _results_pages import write_results_pages  # noqa: E402

import sklearn_bsq  # noqa: E402

project = "sklearn_bsq"
author = "the sklearn_bsq developers"
copyright = "2026, the sklearn_bsq developers"
release = version = sklearn_bsq.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_bsq {release}"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
html_static_path = []

# API reference: one page per public name, members documented in sklearn_bsq only
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def skip_members_of_other_packages(app, what, name, obj, skip, options):
    """Document what sklearn_bsq defines; scikit-learn's own methods
    (get_params, set_output, metadata routing) are documented by scikit-learn."""
    if skip:
        return True
    if name.startswith("_"):
        return True
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    if what == "class" and not module.startswith("sklearn_bsq"):
        return True
    return None


# The gallery: every examples/plot_*.py runs at build time; an error fails the build.
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
}
os.environ.setdefault("MPLBACKEND", "agg")


def setup(app):
    app.connect("autodoc-skip-member", skip_members_of_other_packages)
    app.connect("builder-inited", lambda app: write_results_pages(DOCS))
