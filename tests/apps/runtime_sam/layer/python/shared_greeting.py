def greet(name):
    return f"hello from the {name}"
