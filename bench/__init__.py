"""wsgw's benchmarks: what the gateway costs, next to a bare echo server and serverless-offline.

``python -m bench`` (or ``make bench``) runs scenarios a-f (see :mod:`bench.__main__`
for the list and the options; ``--scenario b,c`` picks some) and prints one table;
``BENCHMARKS.md`` has the figures, the machine and the commands.

Server children (:mod:`bench.bare_echo`, :mod:`bench.gateway_child`) speak the small
protocol of :mod:`bench.lifecycle`; :mod:`bench.servers` starts, queries and stops
them, :mod:`bench.peer` does the same for serverless-offline (``bench/peers``), and
:mod:`bench.targets` starts a scenario's three side by side. Each scenario is one
module (:mod:`bench.roundtrip`, :mod:`bench.concurrent`, :mod:`bench.cycles`,
:mod:`bench.broadcast`, :mod:`bench.idle`, :mod:`bench.startup`) returning a
:class:`bench.model.ScenarioResult`; :mod:`bench.report` prints and writes them.
The bench's own Lambda handlers live in ``bench/apps/echo``.
"""
