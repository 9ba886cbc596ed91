"""The README's promises: its commands are CI's, its quickstart runs, it stays short."""

import re
from pathlib import Path

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
