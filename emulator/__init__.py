"""wsgw's emulator: a local twin of an AWS API Gateway WebSocket API.

Packages (ARCHITECTURE.md draws them; tests/test_import_rules.py keeps the arrows):
``core`` pure rules, ``net`` sockets, ``runtime`` handler workers, ``aws`` embedded
AWS services, ``template`` app definitions, ``tools`` what a person runs beside the
gateway, ``testing`` the pytest plugin, ``commands`` the CLI's commands; ``app`` wires
them (the composition root) and ``reload`` is hot reload.
"""
