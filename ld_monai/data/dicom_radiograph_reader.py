# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""MONAI's ``PydicomReader`` for projection radiographs (CR, DX): checks, the DICOM grayscale pipeline, spacing.

The pixel values follow DICOM PS3.3's grayscale pipeline (section C.11): the modality LUT (rescale slope and
intercept, or a Modality LUT Sequence), then the VOI LUT (a VOI LUT Sequence, else window centre/width with the
VOI LUT Function), then the photometric interpretation: MONOCHROME1 shows its minimum as white, so it is
inverted. The result follows one convention: **higher = more attenuating** (bone bright), as in the PNG
radiographs LD pretrains on (Chen et al., arXiv 2108.09440).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.data import PydicomReader
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi, get_decoder

from ld_monai.data.radiograph_error import RadiographReadError

__all__ = [
    "DicomRadiographReader",
    "RADIOGRAPH_MODALITIES",
    "check_radiograph_header",
    "decode_pixels",
    "radiograph_spacing",
    "voi_kind",
    "window_to_unit",
]

#: DICOM Modality values of projection radiographs: computed radiography, digital radiography, radiographic
#: imaging (conventional film/screen) and "other" (secondary captures of digitised films)
RADIOGRAPH_MODALITIES: tuple[str, ...] = ("CR", "DX", "RG", "OT")

#: Modality values of DICOM objects that are not images (structured reports, radiotherapy, key objects,
#: presentation states, documents, registrations, fiducials)
_NON_IMAGE_MODALITIES = ("SR", "RTSTRUCT", "RTPLAN", "RTRECORD", "RTDOSE", "KO", "PR", "DOC", "REG", "FID", "SEG")

#: the largest image accepted by default (rows x columns): 10x a 4300x3500 detector; stops a corrupt header
#: from asking for gigabytes
DEFAULT_MAX_PIXELS = 150_000_000


def _first(value) -> float:
    """First value of a possibly multi-valued DICOM number (WindowCenter may hold several windows)."""
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0]
    return float(value)


def check_radiograph_header(ds, filename: str, modalities: Sequence[str] = RADIOGRAPH_MODALITIES,
                            max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Raise :class:`RadiographReadError` unless the DICOM header describes one 2-D grayscale radiograph.

    Works on a header read with ``stop_before_pixels=True`` too, except the pixel-data check, which needs the
    element to be present (it is, unread, with ``defer_size``).
    """
    modality = str(ds.get("Modality", "")).upper()
    sop = ds.get("SOPClassUID", None)
    sop_name = getattr(sop, "name", str(sop)) if sop else "no SOP class"
    has_pixels = any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    if not has_pixels:
        if modality in _NON_IMAGE_MODALITIES or "SR" in sop_name.split() or sop_name.startswith("RT "):
            raise RadiographReadError(
                f"{filename}: a non-image DICOM object ({sop_name}, Modality {modality or '?'}); "
                "expected a CR or DX radiograph."
            )
        raise RadiographReadError(f"{filename}: DICOM without pixel data ({sop_name}, Modality {modality or '?'}).")
    if modality not in modalities:
        raise RadiographReadError(
            f"{filename}: Modality {modality or '(missing)'} ({sop_name}) is not a projection radiograph; "
            f"expected one of {', '.join(modalities)}."
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise RadiographReadError(
            f"{filename}: a multi-frame DICOM ({frames} frames: a volume or a cine); expected one 2-D radiograph."
        )
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise RadiographReadError(
            f"{filename}: a colour image (PhotometricInterpretation {photometric or '?'}, {samples} samples per "
            "pixel); X-ray bundles need a grayscale radiograph (MONOCHROME1 or MONOCHROME2)."
        )
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows < 1 or cols < 1 or rows * cols > max_pixels:
        raise RadiographReadError(
            f"{filename}: implausible image size {rows} x {cols} pixels (accepted: 1 to {max_pixels} pixels)."
        )


def radiograph_spacing(ds) -> tuple[tuple[float, float], str]:
    """(row spacing, column spacing) in mm and the attribute it came from.

    PixelSpacing (0028,0030) is calibrated to the patient; ImagerPixelSpacing (0018,1164) is at the detector
    (it includes the geometric magnification, about 1.1 for a PA chest) and is used only when PixelSpacing is
    absent or invalid. Values that are missing, zero, negative or not finite count as absent: returns
    ``((1.0, 1.0), "none")`` then.
    """
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword, None)
        try:
            row, col = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if np.isfinite(row) and np.isfinite(col) and row > 0 and col > 0:
            return (row, col), keyword
    return (1.0, 1.0), "none"


def voi_kind(ds, apply_voi_lut: bool = True) -> str:
    """Which VOI transformation applies: ``"voi_lut"`` (a VOI LUT Sequence), ``"window"`` (a valid window
    centre/width) or ``"raw"`` (none, or ``apply_voi_lut=False``)."""
    if not apply_voi_lut:
        return "raw"
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence) > 0 and "LUTData" in ds.VOILUTSequence[0]:
        return "voi_lut"
    try:
        width, center = _first(ds.WindowWidth), _first(ds.WindowCenter)
    except (AttributeError, TypeError, ValueError, IndexError):
        return "raw"
    function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID") or not np.isfinite([width, center]).all():
        return "raw"
    # PS3.3 C.11.2.1.2: LINEAR needs a width >= 1 (and > 1 to avoid a division by zero); the others > 0
    return "window" if width > (1.0 if function == "LINEAR" else 0.0) else "raw"


def window_to_unit(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """The VOI window of DICOM PS3.3 C.11.2.1.2 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and C.11.2.1.3.1
    (SIGMOID), with output range [0, 1].

    pydicom's ``apply_windowing`` computes the same curves but scales them to the stored bit range, which
    would have to be undone; writing the three formulas here is shorter.
    """
    function = function.upper()
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))).astype(np.float32)
    if function == "LINEAR":
        center, width = center - 0.5, width - 1.0
    return np.clip((values - center) / width + 0.5, 0.0, 1.0).astype(np.float32)


def decode_pixels(ds, filename: str) -> np.ndarray:
    """The stored pixel values of ``ds``, decoded by pydicom's plugins with GDCM only as the last resort.

    python-gdcm 3.2.6 aborts the whole process (an uncaught C++ exception) on some corrupt JPEG 2000 streams,
    found by ``tests/data/test_radiograph_fuzz.py``; pylibjpeg-openjpeg and Pillow refuse the same files cleanly.
    So GDCM decodes only the syntaxes nothing else can (JPEG lossless); pylibjpeg goes first, being the fastest
    for JPEG 2000 and RLE (32 and 21 ms for a 2048^2 frame here). The plugins are tried in turn; a failure
    of all raises :class:`RadiographReadError` with each plugin's reason. pylibjpeg-rle's Rust decoder reports
    corrupt data with a ``PanicException``, a ``BaseException``, which is caught too.
    """
    syntax = ds.file_meta.get("TransferSyntaxUID", None) if hasattr(ds, "file_meta") else None
    prefix = f"{filename}: cannot decode the pixel data ({getattr(syntax, 'name', syntax)})"
    try:
        decoder = get_decoder(syntax)
    except Exception as e:  # noqa: BLE001 - an unknown or missing transfer syntax
        raise RadiographReadError(f"{prefix}: {_reason(e)}") from e
    if decoder.is_native:
        plugins = [""]
    else:
        # pylibjpeg first (the fastest for JPEG 2000 and RLE), GDCM only when nothing else can
        plugins = sorted((p for p in decoder.available_plugins if p != "gdcm"), key=lambda p: p != "pylibjpeg")
        plugins = plugins or list(decoder.available_plugins)
        if not plugins:
            raise RadiographReadError(f"{prefix}: no decoder plugin is installed for it.")
    errors = []
    for plugin in plugins:
        try:
            return decoder.as_array(ds, decoding_plugin=plugin)[0]
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: BLE001 - see the docstring (PanicException)
            errors.append(f"{plugin or 'native'}: {_reason(e)}")
    raise RadiographReadError(f"{prefix}: {'; '.join(errors)}")


def _reason(error: BaseException) -> str:
    """``Type: first line of the message``."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


class DicomRadiographReader(PydicomReader):
    """MONAI ``PydicomReader`` for one 2-D projection radiograph (CR, DX) per file.

    On top of ``PydicomReader`` (used with ``swap_ij=False``, so arrays are (rows, columns) like PIL's):

    * the header is checked first (:func:`check_radiograph_header`): no pixel data, non-image objects (SR, RT),
      other modalities, multi-frame, colour and implausible sizes raise :class:`RadiographReadError`;
    * pixels go through the grayscale pipeline: modality LUT, VOI (LUT sequence or window; ``apply_voi_lut``),
      MONOCHROME1 inversion. With a VOI the values are in [0, 1]; without, they are modality values (negated
      for MONOCHROME1), left for percentile normalisation. Either way higher = more attenuating;
    * the affine is ``diag(row spacing, column spacing, 1, 1)`` from PixelSpacing, else ImagerPixelSpacing
      (:func:`radiograph_spacing`): projection radiographs have no ImageOrientationPatient, so
      ``PydicomReader`` would fall back to the identity and lose the spacing;
    * the meta gets readable keys: ``modality``, ``photometric_interpretation``, ``xray_intensity``
      (``voi_lut``/``window``/``raw``), ``spacing_source`` (``PixelSpacing``/``ImagerPixelSpacing``/``none``),
      ``patient_orientation``, ``view_position``, ``sop_instance_uid``, ``transfer_syntax``.

    Compressed transfer syntaxes decode through pydicom's plugins (pylibjpeg-openjpeg for JPEG 2000,
    pylibjpeg-rle for RLE, python-gdcm for JPEG lossless and 12-bit JPEG, Pillow for 8-bit JPEG).

    Args:
        modalities: accepted Modality values (default :data:`RADIOGRAPH_MODALITIES`).
        apply_voi_lut: apply the file's VOI LUT or window when present (default True).
        max_pixels: the largest accepted rows x columns.
        kwargs: passed to ``pydicom.dcmread``.

    Example::

        LoadImage(image_only=True)("chest.dcm", reader=DicomRadiographReader())  # (rows, cols) float32
    """

    def __init__(self, modalities: Sequence[str] = RADIOGRAPH_MODALITIES, apply_voi_lut: bool = True,
                 max_pixels: int = DEFAULT_MAX_PIXELS, **kwargs) -> None:
        super().__init__(swap_ij=False, affine_lps_to_ras=False, prune_metadata=True, **kwargs)
        self.modalities = tuple(str(m).upper() for m in modalities)
        self.apply_voi_lut = bool(apply_voi_lut)
        self.max_pixels = int(max_pixels)

    def read(self, data, **kwargs):
        """Read one DICOM file with pydicom and check its header (see :func:`check_radiograph_header`)."""
        ds = super().read(data, **kwargs)
        name = str(self.filenames[0]) if self.filenames else str(data)
        if isinstance(ds, list):
            raise RadiographReadError(f"{name}: expected one DICOM file, got {len(ds)} (a series or a folder).")
        check_radiograph_header(ds, name, self.modalities, self.max_pixels)
        return ds

    def _get_array_data(self, img, filename):
        """Decoded pixels through the modality LUT, the VOI and the MONOCHROME1 inversion, as float32."""
        stored = decode_pixels(img, filename)
        if stored.ndim != 2:
            raise RadiographReadError(f"{filename}: decoded pixels have shape {stored.shape}; expected (rows, cols).")
        values = np.asarray(apply_modality_lut(stored, img), dtype=np.float64)
        kind = voi_kind(img, self.apply_voi_lut)
        monochrome1 = str(img.PhotometricInterpretation).upper() == "MONOCHROME1"
        if kind == "voi_lut":
            lut = np.asarray(img.VOILUTSequence[0].LUTData, dtype=np.float64)
            low, high = float(lut.min()), float(lut.max())
            # the LUT is indexed by the (integer) modality-LUT output
            unit = (apply_voi(np.rint(values).astype(np.int64), img, index=0) - low) / max(high - low, 1.0)
            out = 1.0 - unit if monochrome1 else unit
        elif kind == "window":
            unit = window_to_unit(values, _first(img.WindowCenter), _first(img.WindowWidth),
                                  str(img.get("VOILUTFunction", "LINEAR")))
            out = 1.0 - unit if monochrome1 else unit
        else:
            out = -values if monochrome1 else values
        return np.ascontiguousarray(out, dtype=np.float32)

    def _get_meta_dict(self, img) -> dict:
        meta = super()._get_meta_dict(img)
        spacing, source = radiograph_spacing(img)
        syntax = img.file_meta.get("TransferSyntaxUID", "") if hasattr(img, "file_meta") else ""
        meta.update(
            {
                "spacing": np.asarray(spacing, dtype=np.float64),
                "spacing_source": source,
                "modality": str(img.get("Modality", "")),
                "photometric_interpretation": str(img.get("PhotometricInterpretation", "")),
                "xray_intensity": voi_kind(img, self.apply_voi_lut),
                "patient_orientation": "\\".join(str(v) for v in (img.get("PatientOrientation", None) or [])),
                "view_position": str(img.get("ViewPosition", "") or ""),
                "sop_instance_uid": str(img.get("SOPInstanceUID", "")),
                "transfer_syntax": str(syntax),
            }
        )
        return meta

    def _get_affine(self, metadata: dict, lps_to_ras: bool = True) -> np.ndarray:
        """``diag(row spacing, column spacing, 1, 1)``: a projection image has a pixel grid, not a plane in space."""
        affine = np.eye(4)
        affine[0, 0], affine[1, 1] = metadata["spacing"][:2]
        return affine
