"""Writes the .npz fixtures of package npzfile with numpy, and expected.json with their values.

Run from anywhere: .venv/bin/python plugins/npzfile/testdata/make_fixtures.py
The arrays cover every dtype the reader converts, both savez variants, Fortran order and a
big-endian array; expected.json lists each array's dtype string, shape and values in C order.
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def arrays():
    rng = np.random.default_rng(0)
    out = {
        "f4": rng.normal(size=(4, 3)).astype("<f4"),
        "f8": rng.normal(size=(5,)).astype("<f8"),
        "f8_big": rng.normal(size=(2, 2)).astype(">f8"),
        "i1": np.array([-128, -1, 0, 127], dtype="i1"),
        "i2": np.array([[-300, 2], [3, 30000]], dtype="<i2"),
        "i4": np.arange(-3, 3, dtype="<i4").reshape(2, 3),
        "i8": np.array([[0, 1], [-(2**40), 2**40]], dtype="<i8"),
        "u1": np.arange(0, 250, 10, dtype="u1").reshape(5, 5),
        "u2": np.array([0, 65535], dtype="<u2"),
        "u4": np.array([1, 2**32 - 1], dtype="<u4"),
        "u8": np.array([3, 2**40], dtype="<u8"),
        "b1": np.array([True, False, False, True, True]),
        "fortran2d": np.asfortranarray(rng.normal(size=(3, 4)).astype("<f4")),
        "fortran3d": np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)),
        "scalar": np.float32(2.5) * np.ones((), dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
    }
    return out


def main():
    a = arrays()
    np.savez(os.path.join(HERE, "dtypes.npz"), **a)
    np.savez_compressed(os.path.join(HERE, "dtypes_compressed.npz"), **a)
    expected = {
        k: {"dtype": v.dtype.str, "shape": list(v.shape), "fortran": bool(v.flags.f_contiguous and not v.flags.c_contiguous),
            "values": [float(x) for x in np.ravel(v, order="C")]}
        for k, v in a.items()
    }
    # Arrays the reader must refuse with a clear error: strings, complex numbers, float16.
    np.savez(os.path.join(HERE, "unsupported.npz"), strings=np.array(["ab", "cd"]),
             complex=np.array([1 + 2j]), half=np.array([1.5], dtype="<f2"))
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
