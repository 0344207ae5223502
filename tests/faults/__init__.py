"""Fault drills: the delivery guarantee of docs/protocol.md under cut sockets, a killed Redis, a
killed server process, terminated database connections and a reader that stops reading.

``harness`` starts what the drills break (a Redis of their own, two daphne processes), ``client`` is a
protocol client written from the public contract alone, ``ledger`` counts what was sent against what
was applied on the receiving side and compares each client's state with a fresh read from seq 0.
"""
