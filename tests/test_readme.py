"""The README's promises: its commands are CI's, its quickstart runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_starts_with_the_two_commands_ci_runs():
    first_block = fenced_blocks("bash")[0]
    commands = [line for line in first_block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert README.index("```bash") < README.index("##")  # they come first
    ci_script = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert f"run '{command}'" in ci_script


def test_python_examples_run(capsys):
    """The quickstart, then the later examples, which build on its data."""
    quickstart, budget = fenced_blocks("python")
    # the first README command installs no pandas
    assert "import pandas" not in quickstart + budget
    namespace = {}
    exec(compile(quickstart, "README quickstart", "exec"), namespace)
    out = capsys.readouterr().out
    assert "(143, 15) uint8 8x smaller" in out
    exec(compile(budget, "README bit budgets", "exec"), namespace)
    out = capsys.readouterr().out
    assert "= 60 bits, 8 bytes per row" in out and "validation_loss" in out
