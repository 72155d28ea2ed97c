"""Services: what each command does, between the CLI (options in, a reporter out) and the core.

A service takes plain values and a `Context`, returns a result record, and never prints.
"""
