"""A package handler: `jobs.run` (not used by any route)."""


def run(event, context):
    return {"done": True}
