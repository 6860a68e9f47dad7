"""Jobs for test_rq.py: RQ workers import them by name, so they live in a module."""


def add(a, b):
    return a + b


def fail():
    raise ValueError("this job fails on purpose")
