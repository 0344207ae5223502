"""The helpdesk benchmark: a load generator that speaks only docs/protocol.md, a bare Channels
"floor" server in ``bench/floor``, and the harness that runs both in one go (``make bench``).

Run ``python -m bench --help`` for the options; bench/README.md says what is measured and why.
"""
