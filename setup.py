"""The compiled parts of Watchkeeper: two optional C extensions.

- ``watchkeeper.trust._scan`` speeds up ``watchkeeper verify`` (needs the SQLite 3 and OpenSSL headers, Debian:
  ``libsqlite3-dev libssl-dev``); ``watchkeeper verify --json`` says which reader ran.
- ``watchkeeper.signals._langscan`` scores the language signal's model in one pass, and
  ``watchkeeper.signals._wordscan`` the attack signals' linear text model (both need only a C compiler).

Everything else is in pyproject.toml. Where a compiler or the headers are missing the install goes on without the
extension and the pure-Python path runs instead (same results, slower).
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
        ),
        Extension(
            "watchkeeper.signals._langscan",
            sources=["src/watchkeeper/signals/_langscan.c"],
            libraries=["m"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
        Extension(
            "watchkeeper.signals._wordscan",
            sources=["src/watchkeeper/signals/_wordscan.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ]
)
