"""A layer package: importable by the fixture handlers only if the stack puts the layer on sys.path."""


def layer_marker() -> str:
    return "from-the-layer"
