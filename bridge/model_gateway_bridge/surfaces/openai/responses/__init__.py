"""OpenAI's Responses API (`POST /v1/responses`, what Codex speaks) in front of the gateway.

The wire format is openai/openai-openapi's CreateResponse, Response and
ResponseStreamEvent; where the spec is loose, the `openai` SDK's types are
the judge.

- request.py: the body → canonical request; what is refused, what dropped
- items.py: `input` items → canonical messages
- tools.py: function and namespace tools, hosted tools dropped, tool_choice
- reasoning.py: the opaque `encrypted_content` that carries signed reasoning
- response.py: the canonical reply → the Response object
- stream.py: stream chunks → typed SSE events

The routes live with the rest of /v1 in `surfaces/openai/routes.py`.
"""
