"""Print docs/cli.md: the `--help` of every `watchkeeper` command. `make docs` writes it; a test keeps it current."""

from __future__ import annotations

from click.testing import CliRunner

from watchkeeper.cli import main


def render() -> str:
    runner = CliRunner()
    out = ["# CLI reference", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    for args in [[], *[[name] for name in sorted(main.commands)]]:
        result = runner.invoke(main, [*args, "--help"], prog_name="watchkeeper", terminal_width=100)
        title = " ".join(["watchkeeper", *args])
        out += [f"## `{title}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
