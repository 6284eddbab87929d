"""The compiled part of Watchkeeper: one optional C extension that speeds up ``watchkeeper verify`` on SQLite stores.

Everything else is in pyproject.toml. The extension needs a C compiler and the SQLite 3 and OpenSSL headers
(Debian: ``gcc libsqlite3-dev libssl-dev``); where they are missing the install goes on without it and ``verify``
uses the pure-Python path (same results, slower). ``watchkeeper verify --json`` says which one ran.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "watchkeeper.trust._scan",
            sources=["src/watchkeeper/trust/_scan.c"],
            libraries=["sqlite3", "crypto"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
