# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Fuzz test of ``LoadRadiograph`` on corrupted files: each one loads correctly or raises ``RadiographReadError``.

Seeds: small chest X-ray DICOMs written from a real PNG (uncompressed, RLE Lossless, JPEG 2000 Lossless), the
real 16x16 CR of pydicom's test files, a PNG and 2-D NIfTIs (``.nii``, ``.nii.gz``). Hypothesis corrupts them
(byte overwrites, half of them in the first 1024 bytes; truncation; insertion and deletion of byte ranges; DICOM
also without a file suffix) and the property is: a (1, H, W) float32 ``MetaTensor``, finite, in [0, 1], or a
``RadiographReadError`` naming the file. Any other exception, a crash or a hang fails the example.

The loader runs in a child process (:class:`LoaderProcess`): a native decoder can abort the process on a corrupt
codestream (python-gdcm 3.2.6 on JPEG 2000 does), which in-process would kill the whole pytest run instead of
failing one example; a hang inside C code cannot be interrupted by a signal handler either, but the child can be
killed. Seeds are written with fixed UIDs and hypothesis is derandomised, so a run is reproducible; set
``LD_MONAI_FUZZ_REPRO_DIR`` to keep the bytes of failing inputs.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import signal
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("CI"):
    import hypothesis  # noqa: F401 - in CI the fuzz test must run, not skip
pytest.importorskip("hypothesis")
pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")

from hypothesis import HealthCheck, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless  # noqa: E402

from ld_monai.data import RadiographReadError, write_radiograph_dicom  # noqa: E402

#: seed name -> file suffix (".dcm" seeds are also tried without a suffix)
SEEDS = {
    "dx_uncompressed": ".dcm",
    "dx_rle": ".dcm",
    "dx_j2k": ".dcm",
    "cr_real_16x16": ".dcm",
    "png": ".png",
    "nifti": ".nii",
    "nifti_gz": ".nii.gz",
}
#: examples per seed (7 seeds): the whole file runs in about 25 s on 2 cores
MAX_EXAMPLES = 300
#: seconds one load may take (a 64x64 image decodes in milliseconds) before the example fails as a hang
TIME_LIMIT = 20.0
HEADER_BYTES = 1024
CODESTREAM_HEADER_BYTES = 512
PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010), little endian


# ---------------------------------------------------------------- the loader in a child process


def _outcome(loader, path: str, action: str) -> dict:
    """Run the loader in the child and describe what happened in plain (picklable) values."""
    try:
        if action == "abort":  # test hooks: a crashing, hanging or misbehaving decoder
            os.abort()
        elif action == "hang":
            time.sleep(3600)
        elif action == "raise":
            raise KeyError("PixelData")
        image = loader(path)
    except RadiographReadError as e:
        return {"outcome": "refused", "message": str(e)}
    except BaseException as e:  # noqa: BLE001 - also pyo3's PanicException, a BaseException
        if isinstance(e, KeyboardInterrupt):
            raise
        return {"outcome": "exception", "type": f"{type(e).__module__}.{type(e).__qualname__}",
                "traceback": traceback.format_exc()}
    import torch
    from monai.data import MetaTensor

    values = torch.as_tensor(image.as_tensor() if isinstance(image, MetaTensor) else image)
    return {
        "outcome": "loaded", "type": type(image).__name__, "dtype": str(image.dtype), "shape": tuple(image.shape),
        "finite": bool(torch.isfinite(values).all()),
        "min": float(values.min()) if values.numel() else float("nan"),
        "max": float(values.max()) if values.numel() else float("nan"),
    }


def _serve(conn) -> None:
    """Child process: answer (path, action) requests with :func:`_outcome` until it receives None."""
    warnings.simplefilter("ignore")
    from ld_monai.transforms import LoadRadiograph

    loader = LoadRadiograph()
    conn.send("ready")
    while (request := conn.recv()) is not None:
        conn.send(_outcome(loader, *request))


class LoaderProcess:
    """``LoadRadiograph`` in a child process; a crash or a hang becomes an AssertionError and a new child."""

    def __init__(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        self.context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:  # a restarted child is a fork of a server that has imported everything once
            self.context.set_forkserver_preload(["ld_monai.transforms", "pydicom", "nibabel", __name__])
        self.process = self.conn = None
        self.start()

    def start(self) -> None:
        self.conn, child = self.context.Pipe()
        self.process = self.context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(120) or self.conn.recv() != "ready":
            raise RuntimeError("the loader process did not start")

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def __call__(self, path: str | os.PathLike, action: str = "load", time_limit: float = TIME_LIMIT) -> dict:
        self.conn.send((os.fspath(path), action))
        if not self.conn.poll(time_limit):
            self.process.kill()
            self.stop()
            self.start()
            raise AssertionError(f"LoadRadiograph did not return within {time_limit} s on {path} (a hang).")
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(10)
            code = self.process.exitcode
            how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
            self.stop()
            self.start()
            raise AssertionError(
                f"the process running LoadRadiograph died on {path} ({how}): a decoder crashed."
            ) from None


def check_outcome(result: dict, path: str | os.PathLike) -> str:
    """The property on a :func:`_outcome`: returns ``"loaded"`` or ``"refused"``, else raises AssertionError."""
    path = os.fspath(path)
    if result["outcome"] == "refused":
        assert path in result["message"], f"the RadiographReadError does not name the file: {result['message']}"
        return "refused"
    assert result["outcome"] == "loaded", (
        f"LoadRadiograph raised {result['type']}, not RadiographReadError, on {path}:\n{result['traceback']}"
    )
    assert result["type"] == "MetaTensor", f"returned a {result['type']}"
    assert result["dtype"] == "torch.float32", f"returned dtype {result['dtype']}"
    shape = result["shape"]
    assert len(shape) == 3 and shape[0] == 1 and min(shape[1:]) >= 1, f"returned shape {shape}"
    assert result["finite"], "returned non-finite values"
    low, high = result["min"], result["max"]
    assert 0.0 <= low and high <= 1.0, f"values in [{low}, {high}], outside [0, 1]"
    return "loaded"


# ---------------------------------------------------------------- seeds and mutations


def _pixel_data_start(data: bytes) -> int | None:
    """Offset of the DICOM PixelData element (7FE0,0010), where a compressed codestream and its header start."""
    offset = data.rfind(PIXEL_DATA_TAG)
    return offset if offset >= 0 else None


def _mutation(size: int, pixel_data: int | None = None):
    """One corruption of a file of ``size`` bytes (offsets are clamped when earlier ones changed the size).

    Offsets are drawn in the first 1024 bytes (the file header) or anywhere and, for DICOM, also in the 512 bytes
    from the pixel data element (the RLE segment table, the JPEG 2000 main header), with equal odds.
    """
    anywhere = st.integers(0, max(size - 1, 0))
    header = st.integers(0, min(HEADER_BYTES, size) - 1)
    if pixel_data is None:
        offset = st.one_of(header, anywhere)
    else:
        codestream = st.integers(pixel_data, min(pixel_data + CODESTREAM_HEADER_BYTES, size) - 1)
        offset = st.one_of(header, codestream, anywhere)
    special = st.sampled_from([b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80",
                               b"\xff\xff\xff\xff", b"\x01\x00\x00\x00"])  # sizes, lengths, counts
    return st.one_of(
        st.tuples(st.just("overwrite"), offset, st.one_of(special, st.binary(min_size=1, max_size=16))),
        st.tuples(st.just("truncate"), anywhere),
        st.tuples(st.just("insert"), offset, st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("delete"), offset, st.integers(1, 256)),
    )


def apply_mutations(data: bytes, mutations) -> bytes:
    buf = bytearray(data)
    for op, *args in mutations:
        if op == "overwrite":
            offset, payload = min(args[0], len(buf)), args[1]
            buf[offset:offset + len(payload)] = payload
        elif op == "truncate":
            del buf[args[0]:]
        elif op == "insert":
            offset = min(args[0], len(buf))
            buf[offset:offset] = args[1]
        else:
            del buf[args[0]:args[0] + args[1]]
    return bytes(buf)


def _write_dicom_seed(pixels: np.ndarray, path: Path, syntax, index: int) -> None:
    write_radiograph_dicom(pixels, path, modality="DX", pixel_spacing=(0.8, 0.8), transfer_syntax=syntax)
    ds = pydicom.dcmread(path)  # fixed UIDs instead of random ones: the same bytes in every run
    root = f"1.2.826.0.1.3680043.10.1.{index}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{root}.1", f"{root}.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{root}.3"
    ds.save_as(path, enforce_file_format=True)


class _Seeds(dict):
    def __repr__(self) -> str:  # not 100 kB of bytes in every failure report
        return f"<seed files: {', '.join(f'{k} ({len(v)} bytes)' for k, v in self.items())}>"


@pytest.fixture(scope="module")
def seeds(data_dir, tmp_path_factory) -> dict[str, bytes]:
    """The bytes of every seed file (deterministic: fixed UIDs, the first PNG of the chest X-ray set)."""
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    png = sorted((data_dir / "xray" / "cxr_lungs" / "images").glob("*.png"))[0]
    small = np.asarray(Image.open(png).convert("L").resize((64, 64), Image.BILINEAR))
    out = _Seeds()
    for index, (name, syntax) in enumerate((("dx_uncompressed", ExplicitVRLittleEndian), ("dx_rle", RLELossless),
                                            ("dx_j2k", JPEG2000Lossless))):
        _write_dicom_seed(small.astype(np.uint16) * 16, folder / f"{name}.dcm", syntax, index)
        out[name] = (folder / f"{name}.dcm").read_bytes()
    out["cr_real_16x16"] = (data_dir / "dicom_nifti" / "dicom_pydicom_wheel" / "CR" / "CR1_6154.dcm").read_bytes()
    buffer = io.BytesIO()
    Image.fromarray(small).resize((48, 40), Image.BILINEAR).save(buffer, format="PNG")
    out["png"] = buffer.getvalue()
    nifti = nibabel.Nifti1Image(small[:40, :48].astype(np.int16), np.diag([0.5, 0.5, 1.0, 1.0]))
    for name in ("nifti", "nifti_gz"):
        nibabel.save(nifti, folder / f"seed{SEEDS[name]}")
        out[name] = (folder / f"seed{SEEDS[name]}").read_bytes()
    return out


@pytest.fixture(scope="module")
def loader():
    process = LoaderProcess()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_cases")


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("name", list(SEEDS))
def test_seed_loads(seeds, loader, work_dir, name):
    """Every seed is a valid radiograph: the fuzzing starts from files that decode."""
    path = work_dir / f"{name}_intact{SEEDS[name]}"
    path.write_bytes(seeds[name])
    result = loader(path)
    assert check_outcome(result, path) == "loaded"
    expected = {"cr_real_16x16": (16, 16), "png": (40, 48), "nifti": (40, 48), "nifti_gz": (40, 48)}
    assert result["shape"] == (1, *expected.get(name, (64, 64)))
    assert result["max"] - result["min"] > 0.1  # a picture, not a constant


@pytest.mark.parametrize("name", list(SEEDS))
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_file_loads_or_raises_radiograph_read_error(seeds, loader, work_dir, name, data):
    seed = seeds[name]
    suffix = SEEDS[name]
    pixel_data = _pixel_data_start(seed) if suffix == ".dcm" else None
    mutations = data.draw(st.lists(_mutation(len(seed), pixel_data), min_size=1, max_size=4), label="mutations")
    if suffix == ".dcm" and data.draw(st.booleans(), label="extensionless"):
        suffix = ""  # DICOM recognised by its magic, as files named by their UID
    mutated = apply_mutations(seed, mutations)
    path = work_dir / f"{name}_case{suffix}"
    path.write_bytes(mutated)
    try:
        outcome = check_outcome(loader(path), path)
    except AssertionError:
        repro_dir = os.environ.get("LD_MONAI_FUZZ_REPRO_DIR")
        if repro_dir:
            os.makedirs(repro_dir, exist_ok=True)
            repro = Path(repro_dir) / f"{name}_{hashlib.sha1(mutated).hexdigest()[:12]}{suffix}"
            repro.write_bytes(mutated)
            note(f"input saved as {repro}")
        raise
    note(f"{outcome}: {len(mutated)} bytes")


def _known_corruption(name: str, seed: bytes) -> bytes:
    """Corruptions found by this fuzz test (python-gdcm 3.2.6, pylibjpeg-rle 2.2.0), as regression cases."""
    if name == "rle_one_byte_deleted":
        # the RLE frame starts 28 bytes after the PixelData tag (tag, VR, length, empty offset table, item
        # header); deleting byte 68 of the frame (in the first segment) makes pylibjpeg-rle's Rust decoder panic:
        # pyo3_runtime.PanicException, a BaseException, escapes pydicom's plugin fallback and LoadRadiograph
        offset = _pixel_data_start(seed) + 28 + 68
        return seed[:offset] + seed[offset + 1:]
    # deleting bytes 4-24 of the JPEG 2000 codestream (most of the SIZ segment): GDCM, the first of pydicom's
    # JPEG 2000 plugins, throws a C++ std::string that nothing catches; std::terminate aborts the process (SIGABRT).
    # Fixed by ld_monai.data.decode_pixels, which leaves GDCM to the syntaxes nothing else decodes
    soc = seed.find(b"\xff\x4f\xff\x51")
    return seed[:soc + 4] + seed[soc + 25:]


@pytest.mark.parametrize("case, name", [("rle_one_byte_deleted", "dx_rle"), ("j2k_siz_deleted", "dx_j2k")])
def test_known_corruption(seeds, loader, work_dir, case, name):
    path = work_dir / f"{case}.dcm"
    path.write_bytes(_known_corruption(case, seeds[name]))
    check_outcome(loader(path), path)


def test_the_property_can_fail(loader, work_dir):
    """Other exceptions, crashes, hangs and bad values fail the property (the fuzz test is not vacuous)."""
    path = work_dir / "empty.dcm"
    path.write_bytes(b"")
    assert check_outcome(loader(path), path) == "refused"
    with pytest.raises(AssertionError, match="KeyError"):
        check_outcome(loader(path, action="raise"), path)
    with pytest.raises(AssertionError, match="SIGABRT"):
        loader(path, action="abort")
    with pytest.raises(AssertionError, match="did not return"):
        loader(path, action="hang", time_limit=1.0)
    assert check_outcome(loader(path), path) == "refused"  # a new child after the crash and the hang
    good = {"outcome": "loaded", "type": "MetaTensor", "dtype": "torch.float32", "shape": (1, 4, 4), "finite": True,
            "min": 0.0, "max": 1.0}
    assert check_outcome(good, path) == "loaded"
    for bad, message in (({"max": 1.5}, "outside"), ({"finite": False}, "non-finite"), ({"shape": (4, 4)}, "shape"),
                         ({"dtype": "torch.float64"}, "dtype"), ({"type": "ndarray"}, "ndarray")):
        with pytest.raises(AssertionError, match=message):
            check_outcome({**good, **bad}, path)
    with pytest.raises(AssertionError, match="does not name"):
        check_outcome({"outcome": "refused", "message": "a bad file"}, path)
    assert apply_mutations(b"abcdef", [("overwrite", 1, b"XY"), ("delete", 0, 1), ("insert", 9, b"!"),
                                       ("truncate", 5)]) == b"XYdef"
