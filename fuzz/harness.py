"""`python -m fuzz.harness TARGET [libFuzzer flags] CORPUS...`: one target under atheris."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["model_gateway", "model_gateway_bridge", "model_gateway_common"]):
    # Import what the targets use now, so the instrumentation covers it.
    import model_gateway.providers.anthropic.provider
    import model_gateway.providers.gemini.provider
    import model_gateway.providers.ollama.provider
    import model_gateway.providers.openai.provider  # noqa: F401
    import model_gateway_bridge.surfaces.anthropic.request
    import model_gateway_bridge.surfaces.native.request
    import model_gateway_bridge.surfaces.ollama.embeddings
    import model_gateway_bridge.surfaces.ollama.request
    import model_gateway_bridge.surfaces.openai.embeddings
    import model_gateway_bridge.surfaces.openai.request
    import model_gateway_bridge.surfaces.openai.responses.request  # noqa: F401
    from fuzz.targets import BY_NAME

from fuzz.mutate import custom_line_mutator, custom_mutator


def main() -> None:
    name = sys.argv.pop(1)
    spec = BY_NAME[name]
    target = spec.build()
    mutator = custom_mutator if spec.kind == "request" else custom_line_mutator
    atheris.Setup(sys.argv, target, custom_mutator=mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
