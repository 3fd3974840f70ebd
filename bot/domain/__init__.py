"""The pure core: AWS payloads and answers in, decisions out. No I/O, no clock, no environment.

Modules here import only the standard library and each other (tests/test_architecture.py).
"""
