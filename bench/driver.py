"""Build a bench/*.c timing driver through CMake, which knows how ditgen_core links
(OpenBLAS, FFmpeg, cJSON, and CUDA when the build has it)."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_driver(name, build_dir=os.path.join(ROOT, "build")):
    """cmake --build BUILD --target NAME; returns the executable's path."""
    subprocess.run(["cmake", "--build", build_dir, "--target", name], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, name)
