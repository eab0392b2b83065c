"""Build hook for the one compiled part of spkc: the `exact` codec's kernel (plain C, no numpy
headers). Everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spkc.codecs._exact",
            sources=["spkc/codecs/_exact.c"],
            extra_compile_args=["-O3", "-std=c99"],
            optional=False,
        )
    ]
)
