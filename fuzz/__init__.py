"""Coverage-guided fuzzing (atheris) of every dialect's request parser and every provider's stream
parser: `make fuzz` (`python -m fuzz --seconds N`). See fuzz/README.md."""
