"""Only the native Agora line scanner; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "video_analytics.agora._linescan",
            ["video_analytics/agora/_linescan.c"],
            extra_compile_args=[
                "-O3",
                "-std=c11",
                "-D_GNU_SOURCE",
                "-Wall",
                "-Wextra",
                "-Wno-missing-field-initializers",
            ],
            # without a compiler the install still succeeds; the engine then parses with polars alone
            optional=True,
        ),
    ]
)
