"""Packages of the wsgw distribution; the metadata is in pyproject.toml.

Here because one thing cannot be said in pyproject.toml's ``packages.find``: the bundled
chat app keeps the repository layout the project asked for (``handlers/`` and
``deploy/`` at the top) yet ships inside the package, as ``emulator/_bundled/...``,
so an installed wsgw serves, synthesizes and deploys it (emulator/template/bundled_app.py).
"""

from setuptools import find_packages, setup

BUNDLED = {
    "emulator._bundled.handlers": "handlers",
    "emulator._bundled.deploy": "deploy",
    "emulator._bundled.examples": "examples",  # the end-to-end tests `wsgw init` copies
}

# Folders of data beside the code, shipped as packages of their own so setuptools knows them.
DATA_PACKAGES = ["emulator.runtime.node"]

setup(
    packages=[*find_packages(include=["emulator", "emulator.*"]), *DATA_PACKAGES, *BUNDLED],
    package_dir=BUNDLED,
    package_data={
        # The pinned CDK CLI lock (installed into the user's cache when needed), the CDK
        # app's settings, and the pre-synthesized template served without the CDK tools.
        # The SAM twin of the stack (`wsgw init --template sam`).
        "emulator._bundled.deploy": ["cdk.json", "package.json", "package-lock.json", "snapshot.out/*.json",
                                     "chat-app.sam.yaml"],
        # The live inspector's page: plain HTML, CSS and JS, served from the package.
        "emulator.inspector": ["*.html", "*.css", "*.js"],
        # The Node.js worker (run by node, loaded by path) and the lock of the AWS SDK v3
        # clients it gives handlers (installed into the user's cache when first needed).
        "emulator.runtime.node": ["*.mjs", "package.json", "package-lock.json"],
    },
    exclude_package_data={"": ["__pycache__", "*.pyc"]},
)
