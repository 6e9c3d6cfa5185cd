"""Thin Discord adapters: parse options, check permissions, call one service, reply."""
