"""The reference site's promises, checked without building it.

Every public name has an entry in ``docs/api.rst``; every public class and function
documents its parameters, what it returns and an example; the Python blocks of the
user guide run. CI also builds the site with warnings as errors
(``sphinx-build -W``) and checks its internal links (``docs/check_links.py``).
"""

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
from numpydoc.docscrape import NumpyDocString

import sklearn_bsq

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PUBLIC_MODULES = ["codec", "export", "persistence", "plotting", "scoring"]


def package_names():
    return sorted(set(sklearn_bsq.__all__) - {"__version__"})


def public_objects():
    """(name, object) for every public class and function, each once."""
    seen = {}
    for name in package_names():
        seen[name] = getattr(sklearn_bsq, name)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"sklearn_bsq.{module_name}")
        for name in module.__all__:
            seen.setdefault(name, getattr(module, name))
    return [(n, o) for n, o in seen.items() if inspect.isclass(o) or callable(o)]


def documented_parameters(doc: NumpyDocString) -> set[str]:
    names = set()
    for section in ("Parameters", "Other Parameters"):
        for parameter in doc[section]:
            names.update(part.strip() for part in parameter.name.split(","))
    return names


def signature_parameters(function) -> set[str]:
    skip = {"self", "cls"}
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name
        for name, p in inspect.signature(function).parameters.items()
        if name not in skip and p.kind not in kinds
    }


def test_every_public_name_has_an_api_entry():
    api = (DOCS / "api.rst").read_text()
    entries = set(re.findall(r"^   (\w+)$", api, flags=re.MULTILINE))
    entries |= set(re.findall(r"^\.\. data:: (\w+)$", api, flags=re.MULTILINE))
    missing = [n for n in package_names() if n not in entries]
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"sklearn_bsq.{module_name}")
        missing += [n for n in module.__all__ if n not in entries]
    assert not missing, f"public names without an API entry in docs/api.rst: {missing}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_modules_name_their_public_objects(module_name):
    module = importlib.import_module(f"sklearn_bsq.{module_name}")
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert defined_here == set(module.__all__)
    # and the package exports each under the same name
    assert set(module.__all__) <= set(sklearn_bsq.__all__)


@pytest.mark.parametrize("name, obj", public_objects(), ids=lambda v: str(v)[:40])
def test_public_objects_have_parameters_returns_and_an_example(name, obj):
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    assert doc["Summary"], f"{name} has no summary line"
    assert doc["Examples"], f"{name} has no Examples section"
    target = obj.__init__ if inspect.isclass(obj) else obj
    undocumented = signature_parameters(target) - documented_parameters(doc)
    assert not undocumented, f"{name}: parameters not documented: {undocumented}"
    if not inspect.isclass(obj) and inspect.signature(obj).return_annotation != "None":
        assert doc["Returns"], f"{name} has no Returns section"


def public_methods():
    """Methods and properties the package defines on its public classes."""
    for class_name, cls in public_objects():
        if not inspect.isclass(cls):
            continue
        for name in dir(cls):
            if name.startswith("_"):
                continue
            static = inspect.getattr_static(cls, name)
            if isinstance(static, property):  # its docstring is the property's
                if static.fget.__module__.startswith("sklearn_bsq"):
                    yield f"{class_name}.{name}", static
                continue
            member = getattr(cls, name)
            if getattr(member, "__module__", "").startswith("sklearn_bsq"):
                yield f"{class_name}.{name}", member


@pytest.mark.parametrize(
    "name, member", list(public_methods()), ids=lambda v: str(v)[:50]
)
def test_public_methods_document_every_parameter(name, member):
    text = inspect.getdoc(member)
    assert text, f"{name} has no docstring"
    if inspect.isfunction(member) or inspect.ismethod(member):
        doc = NumpyDocString(text)
        undocumented = signature_parameters(member) - documented_parameters(doc)
        assert not undocumented, f"{name}: parameters not documented: {undocumented}"


def python_blocks(page: Path) -> list[str]:
    return re.findall(
        r"^```python\n(.*?)^```", page.read_text(), re.DOTALL | re.MULTILINE
    )


GUIDE_PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


@pytest.mark.parametrize(
    "page",
    [p for p in GUIDE_PAGES if python_blocks(p)],
    ids=lambda p: str(p.relative_to(DOCS)),
)
def test_the_python_blocks_of_a_page_run_in_order(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a page's example may write files
    namespace = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(page), start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)


def test_the_link_check_finds_missing_pages_and_fragments(tmp_path):
    path = DOCS / "check_links.py"
    spec = importlib.util.spec_from_file_location("check_links", path)
    check_links = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_links)
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "page.html").write_text('<h1 id="top">x</h1>')
    (tmp_path / "index.html").write_text(
        '<a href="api/page.html#top">ok</a> <a href="#here" id="here">ok</a>'
        '<a href="https://example.org">external</a> <img src="missing.png">'
        '<a href="api/page.html#gone">no such id</a>'
    )
    broken, internal, external = check_links.broken_links(tmp_path)
    assert internal == 4 and external == 1
    reasons = sorted(line.split(" (")[1] for line in broken)
    assert reasons == ["no id 'gone')", "no such file)"]
    assert check_links.main([str(tmp_path)]) == 1
