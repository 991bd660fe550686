"""Protocol-faithful fake upstreams (OpenAI-compatible and Ollama) for integration tests.

Run one as a process, `python -m tests.fakes.openai_server --port 0 --port-file PATH`
(likewise `tests.fakes.ollama_server`), or in-process: `server = await openai_server.start()`,
then `server.url`, `server.stats`, `await server.close()`.

Replies are deterministic (see `common.build_reply`). The requested model name picks a failure:

- fail-429: 429 with Retry-After: 7; fail-500: 500; fail-401: 401 echoing the bearer token;
  fail-404 (or any model the fake does not list): 404 — all with the server's own error body.
- cut-stream: a streamed 200 cut after 2 chunks (unary: a truncated body), connection dropped.
- slow-first-byte: waits --slow-seconds (or the x-fake-delay request header) before the first byte.
- slow-stream: one chunk every 0.2 s for 60 s (for cancellation tests).
- no-usage (OpenAI): no usage anywhere, even with stream_options.include_usage; [DONE] still sent.
- inband-error: a streamed 200 with one content chunk, then an in-band error
  (OpenAI `data: {"error": {...}}` then [DONE]; Ollama an `{"error": ...}` line); unary: a 500.

GET /_fake/stats shows what a fake has seen, POST /_fake/reset clears it.
"""
