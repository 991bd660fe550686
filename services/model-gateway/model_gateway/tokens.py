"""Token estimation for upstreams that report no usage (llama.cpp streams, errors).

No tokenizer is downloaded at run time, so this is a heuristic: close to
BPE tokenizers on English and code (words, numbers and punctuation runs,
long words split every ~4 characters). Usage it produces is marked
`estimated`.
"""

from __future__ import annotations

import re

from modelgateway.v1 import gateway_pb2 as pb

_PIECE = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[^\sA-Za-z0-9]|\s+(?=\S)")

# Chat templates add a few tokens per message (role markers, separators).
PER_MESSAGE_OVERHEAD = 4


def count_text(text: str) -> int:
    if not text:
        return 0
    tokens = 0
    for piece in _PIECE.findall(text):
        if piece.isspace():
            continue
        tokens += (len(piece) + 3) // 4 if piece.isalpha() and len(piece) > 6 else 1
    return tokens


def count_request(request: pb.GenerateRequest) -> int:
    if not request.messages:
        return count_text(request.system) + count_text(request.prompt)
    total = 3
    if request.system:  # kept beside the messages; counted as the system message it becomes
        total += PER_MESSAGE_OVERHEAD + count_text(request.system)
    for message in request.messages:
        total += PER_MESSAGE_OVERHEAD
        for part in message.content:
            if part.HasField("text"):
                total += count_text(part.text)
            else:
                total += 85  # a low-detail image, as OpenAI bills it
        for call in message.tool_calls:
            total += count_text(call.name) + count_text(call.arguments)
    for tool in request.tools:
        total += count_text(tool.name) + count_text(tool.description) + 8
    return total


def estimate_usage(request: pb.GenerateRequest, output_text: str) -> pb.Usage:
    input_tokens = count_request(request)
    output_tokens = count_text(output_text)
    return pb.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        estimated=True,
    )
