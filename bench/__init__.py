"""wsgw's benchmark: what the gateway costs per message, next to a bare echo server.

``python -m bench`` (or ``make bench``) runs the round-trip benchmark; see
:mod:`bench.__main__` for the options and :mod:`bench.roundtrip` for what is timed.
Server children (:mod:`bench.bare_echo`, :mod:`bench.gateway_child`) speak the small
protocol of :mod:`bench.lifecycle`; :mod:`bench.servers` starts and stops them.
"""
