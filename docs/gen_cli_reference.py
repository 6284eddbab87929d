"""Print docs/cli.md: the `--help` of every `watchkeeper` command. `make docs` writes it; a test keeps it current."""

from __future__ import annotations

import click
from click.testing import CliRunner

from watchkeeper.cli import main


def render() -> str:
    runner = CliRunner()
    out = ["# CLI reference", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    paths: list[list[str]] = [[]]
    for name in sorted(main.commands):
        paths.append([name])
        command = main.commands[name]
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in sorted(command.commands)]
    for args in paths:
        result = runner.invoke(main, [*args, "--help"], prog_name="watchkeeper", terminal_width=100)
        title = " ".join(["watchkeeper", *args])
        out += [f"## `{title}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
