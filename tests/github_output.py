"""What GitHub Actions steps hand to later steps and jobs, read as the runner reads it."""

from __future__ import annotations

from pathlib import Path


def output_of(path: Path) -> dict[str, str]:
    """The outputs a step wrote to $GITHUB_OUTPUT (NAME<<DELIMITER blocks and NAME=VALUE)."""
    outputs, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        name, heredoc, delimiter = line.partition("<<")
        if heredoc:
            block = []
            for value in lines:
                if value == delimiter:
                    break
                block.append(value)
            else:
                raise ValueError(f"{name}: no closing {delimiter} line")
            outputs[name] = "\n".join(block)
        else:
            key, _, value = line.partition("=")
            outputs[key] = value
    return outputs
