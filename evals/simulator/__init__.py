"""The simulated caller: a Twilio-faithful Media Streams client that plays a call script.

Test and eval tooling, never imported by production code: it phones a running agent server
over the real Twilio path (signed webhook, TwiML, Media Streams WebSocket, 8 kHz μ-law),
speaks the script's lines with a synthetic voice (``caller_voice``), transcribes what the
agent says (``agent_ear``) and picks its next line with ``evals.simulator.caller_policy``.
"""
