"""The README's promises: its commands are CI's, its quickstart runs, it stays short."""

import configparser
import re
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CI_SCRIPT = (ROOT / ".ci" / "run").read_text()


def fenced_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_starts_with_the_two_commands_ci_runs():
    first_block = fenced_blocks("bash")[0]
    commands = [line for line in first_block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert README.index("```bash") < README.index("##")  # they come first
    for command in commands:
        assert f"run '{command}'" in CI_SCRIPT


def test_the_docs_command_is_the_one_ci_runs():
    (docs_block,) = [b for b in fenced_blocks("bash") if "sphinx-build" in b]
    (command,) = [line for line in docs_block.splitlines() if line.strip()]
    assert f"run '{command}'" in CI_SCRIPT
    assert "-W" in command.split()  # warnings are errors


def test_the_readme_stays_a_readme():
    assert len(README.splitlines()) <= 250
    # every page it links to exists
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_the_quickstart_runs(capsys):
    (quickstart,) = fenced_blocks("python")
    # the first README command installs no pandas
    assert "import pandas" not in quickstart
    exec(compile(quickstart, "README quickstart", "exec"), {})
    out = capsys.readouterr().out
    assert "(143, 15) uint8 8x smaller" in out


def test_the_quickstart_is_the_getting_started_page_s():
    page = (ROOT / "docs" / "getting_started.md").read_text()
    (quickstart,) = fenced_blocks("python")
    assert f"```python\n{quickstart}```" in page


def oldest_pins() -> dict[str, Version]:
    lines = (ROOT / ".ci" / "oldest-versions.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name.split("[")[0]: Version(version) for name, version in pins}


def floors(requirements: str) -> dict[str, Version]:
    """``name>=version`` lines (extras in brackets left out of the name)."""
    found = re.findall(
        r"^\s*([\w-]+)(?:\[[^\]]*\])?>=([\d.]+)", requirements, flags=re.MULTILINE
    )
    return {name: Version(version) for name, version in found}


def test_ci_tests_the_oldest_releases_setup_cfg_admits():
    """Every dependency's floor (and the [plot], [cli] and [dask] extras') is the
    release CI's second environment pins (torch excepted: CI has one CPU build,
    the README's), and the tests it runs there exist."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    required = floors(setup["options"]["install_requires"])
    extras = setup["options.extras_require"]
    required["matplotlib"] = floors(extras["plot"])["matplotlib"]
    required["dask"] = floors(extras["dask"])["dask"]
    required["pandas"] = floors(extras["cli"])["pandas"]
    pins = oldest_pins()
    assert set(required) <= set(pins)
    for name, floor in required.items():
        if name == "torch":
            assert f"pip install torch=={pins[name]}" in README
            continue
        assert pins[name].release[: len(floor.release)] == floor.release, name
    block = CI_SCRIPT[CI_SCRIPT.index("oldest_tests=(") :]
    named = re.findall(r"tests/test_\w+\.py", block[: block.index(")")])
    assert len(named) > 20
    for path in named:
        assert (ROOT / path).is_file(), path
