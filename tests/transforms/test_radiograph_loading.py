# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""LoadRadiograph on real DICOM (NEMA WG04 chest CR), on DX/CR files built from real PNG radiographs, on NIfTI,
and on malformed files: values follow the DICOM grayscale pipeline exactly, every failure is a
RadiographReadError naming the file."""

from __future__ import annotations

import glob
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from ld_monai.data import RadiographReadError, write_radiograph_dicom
from ld_monai.transforms import LoadRadiograph, LoadRadiographd, XRayIntensityNormalize

TOP = 4095  # 12-bit


@pytest.fixture(scope="module")
def chest_png(data_dir: Path) -> Path:
    return Path(sorted(glob.glob(str(data_dir / "xray" / "cxr_lungs" / "**" / "*.png"), recursive=True))[0])


@pytest.fixture(scope="module")
def pixels12(chest_png: Path) -> np.ndarray:
    """A real chest radiograph as 12-bit stored values (higher = brighter), 128 x 128 to keep the tests fast."""
    gray = Image.open(chest_png).convert("L").resize((128, 128), Image.BILINEAR)
    return np.asarray(gray).astype(np.uint16) * 16


def _window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 LINEAR window, written out independently of the library."""
    out = (values - (center - 0.5)) / (width - 1) + 0.5
    return np.clip(out, 0, 1)


def test_wg04_chest_cr_jpeg2000_monochrome1(data_dir: Path):
    """The real PA chest: JPEG 2000, MONOCHROME1, window 15000/30000, PixelSpacing 0\\0 (invalid)."""
    path = data_dir / "dicom_nifti" / "dicom_wg04" / "RG1_J2KI"
    image = LoadRadiograph(rescale_after_voi=False)(path)
    ds = pydicom.dcmread(path)
    assert image.shape == (1, ds.Rows, ds.Columns) == (1, 1955, 1841)
    assert image.dtype == torch.float32
    assert image.meta["xray_intensity"] == "window" and image.meta["photometric_interpretation"] == "MONOCHROME1"
    expected = 1.0 - _window(ds.pixel_array.astype(np.float64), 15000, 30000)  # MONOCHROME1: inverted
    np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-6)
    # a zero PixelSpacing is no spacing: the affine stays in pixels and says so
    assert image.meta["spacing_source"] == "none"
    np.testing.assert_allclose(image.pixdim.numpy(), [1.0, 1.0])
    # higher = more attenuating: the spine (centre columns) is brighter than the lung fields beside it
    rows = slice(500, 1300)
    spine = image[0, rows, 870:970].mean()
    lungs = (image[0, rows, 350:650].mean() + image[0, rows, 1200:1500].mean()) / 2
    assert spine > lungs + 0.1
    # by default the windowed image is then stretched by percentiles, as the PNGs the models are trained on
    stretched = LoadRadiograph()(path)
    torch.testing.assert_close(stretched, XRayIntensityNormalize()(image))
    assert float(stretched.min()) == 0.0 and float(stretched.max()) == 1.0


def test_wg04_rle_spacing_in_affine(data_dir: Path):
    image = LoadRadiograph()(data_dir / "dicom_nifti" / "dicom_wg04" / "RG2_RLE")
    assert image.shape == (1, 2140, 1760)
    assert image.meta["spacing_source"] == "PixelSpacing"
    np.testing.assert_allclose(image.pixdim.numpy(), [0.2, 0.2])
    np.testing.assert_allclose(image.affine.numpy()[:2, :2], np.diag([0.2, 0.2]))


def test_pydicom_cr_rescale_then_window_imager_spacing(data_dir: Path):
    """A real CR header: RescaleSlope 0.684, intercept 200, window 1600/2800 in rescaled units."""
    path = data_dir / "dicom_nifti" / "dicom_pydicom_wheel" / "CR" / "CR1_6154.dcm"
    image = LoadRadiograph(rescale_after_voi=False)(path)
    ds = pydicom.dcmread(path)
    rescaled = ds.pixel_array * 0.684 + 200
    np.testing.assert_allclose(image[0].numpy(), 1.0 - _window(rescaled, 1600, 2800), atol=1e-6)
    assert image.meta["spacing_source"] == "ImagerPixelSpacing"
    np.testing.assert_allclose(image.pixdim.numpy(), [0.1, 0.1])


@pytest.mark.parametrize("modality", ["DX", "CR"])
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_built_dicom_matches_png_without_voi(tmp_path, chest_png, pixels12, modality, photometric):
    """No VOI: percentile scaling of the stored values; MONOCHROME1 and 2 give the same picture, and the same as
    the PNG of those values through the same chain."""
    path = tmp_path / "x.dcm"
    write_radiograph_dicom(pixels12, path, modality=modality, photometric=photometric)
    png = tmp_path / "x.png"
    Image.fromarray(pixels12.astype(np.uint16)).save(png)  # a 16-bit gray PNG of the same values
    image = LoadRadiograph()(path)
    assert image.meta["xray_intensity"] == "raw" and image.meta["modality"] == modality
    np.testing.assert_allclose(image[0].numpy(), LoadRadiograph()(png)[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_built_dicom_window(tmp_path, pixels12, photometric):
    path = tmp_path / "w.dcm"
    write_radiograph_dicom(pixels12, path, photometric=photometric, window=(1500, 2000))
    image = LoadRadiograph(rescale_after_voi=False)(path)
    assert image.meta["xray_intensity"] == "window"
    # the window applies to the stored values; MONOCHROME1 stores 4095 - v and is inverted after the window
    stored = pixels12.astype(np.float64) if photometric == "MONOCHROME2" else TOP - pixels12.astype(np.float64)
    expected = _window(stored, 1500, 2000)
    expected = expected if photometric == "MONOCHROME2" else 1.0 - expected
    np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-6)
    # the window can be ignored on request: then percentiles of the stored values, as a PNG of them
    raw = LoadRadiograph(apply_voi_lut=False)(path)
    assert raw.meta["xray_intensity"] == "raw" and float(raw.min()) == 0.0 and float(raw.max()) == 1.0


def test_full_range_window_then_percentiles_equals_png(tmp_path, pixels12):
    """A linear window over the whole stored range, then the default percentile stretch: the PNG's values."""
    path, png = tmp_path / "full.dcm", tmp_path / "full.png"
    write_radiograph_dicom(pixels12, path, photometric="MONOCHROME1", window=(2048, 4096))
    Image.fromarray(pixels12.astype(np.uint16)).save(png)
    image = LoadRadiograph()(path)
    assert image.meta["xray_intensity"] == "window"
    np.testing.assert_allclose(image[0].numpy(), LoadRadiograph()(png)[0].numpy(), atol=1e-5)


def test_built_dicom_voi_lut(tmp_path, pixels12):
    """A VOI LUT Sequence wins over a window; a squaring LUT gives (v / 4095)^2."""
    lut = np.round((np.arange(TOP + 1) / TOP) ** 2 * 65535).astype(np.uint16)
    path = tmp_path / "lut.dcm"
    write_radiograph_dicom(pixels12, path, photometric="MONOCHROME1", voi_lut=lut[::-1].copy(), window=(10, 20))
    image = LoadRadiograph(rescale_after_voi=False)(path)
    assert image.meta["xray_intensity"] == "voi_lut"
    # MONOCHROME1 stores 4095 - v; the reversed LUT maps it to (v/4095)^2 * 65535 ... then MONOCHROME1 inverts
    expected = 1.0 - (pixels12 / TOP) ** 2
    np.testing.assert_allclose(image[0].numpy(), expected, atol=2e-5)


def test_spacing_sources(tmp_path, pixels12):
    both = tmp_path / "both.dcm"
    write_radiograph_dicom(pixels12, both, pixel_spacing=(0.2, 0.25), imager_pixel_spacing=(0.22, 0.27))
    image = LoadRadiograph()(both)
    assert image.meta["spacing_source"] == "PixelSpacing"
    np.testing.assert_allclose(image.pixdim.numpy(), [0.2, 0.25])
    imager = tmp_path / "imager.dcm"
    write_radiograph_dicom(pixels12, imager, modality="CR", imager_pixel_spacing=(0.15, 0.16))
    np.testing.assert_allclose(LoadRadiograph()(imager).pixdim.numpy(), [0.15, 0.16])


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_compressed_equals_uncompressed(tmp_path, pixels12, syntax):
    plain, packed = tmp_path / "plain.dcm", tmp_path / "packed.dcm"
    write_radiograph_dicom(pixels12, plain, photometric="MONOCHROME1", window=(2000, 3000))
    write_radiograph_dicom(pixels12, packed, photometric="MONOCHROME1", window=(2000, 3000), transfer_syntax=syntax)
    assert pydicom.dcmread(packed).file_meta.TransferSyntaxUID == syntax
    assert torch.equal(LoadRadiograph()(plain), LoadRadiograph()(packed))


def test_decoders_installed_for_common_syntaxes():
    """The dependencies decode every transfer syntax chest radiographs come in."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEG2000, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1

    for syntax in (JPEG2000, JPEG2000Lossless, RLELossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1,
                   JPEGLSLossless):
        assert get_decoder(syntax).is_available, syntax.name


def test_nifti_2d_and_single_slice(tmp_path, pixels12):
    affine = np.diag([0.3, 0.4, 1.0, 1.0])
    for name, array in (("a.nii.gz", pixels12), ("b.nii", pixels12[..., None])):
        nib.save(nib.Nifti1Image(pixels12.astype(np.int16) if array.ndim == 2 else array.astype(np.int16), affine),
                 tmp_path / name)
        image = LoadRadiograph()(tmp_path / name)
        assert image.shape == (1, 128, 128)
        np.testing.assert_allclose(image.pixdim.numpy()[:2], [0.3, 0.4])
        np.testing.assert_allclose(image[0].numpy(), LoadRadiograph()(tmp_path / "a.nii.gz")[0].numpy())


def test_dictionary_twin(tmp_path, pixels12):
    write_radiograph_dicom(pixels12, tmp_path / "d.dcm")
    out = LoadRadiographd("image")({"image": str(tmp_path / "d.dcm"), "name": "d"})
    assert out["image"].shape == (1, 128, 128) and out["name"] == "d"


# ---- malformed and unsupported files: always a RadiographReadError naming the file ----


def _expect_error(path, *words):
    with pytest.raises(RadiographReadError) as info:
        LoadRadiograph()(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_truncated_dicom(tmp_path, pixels12):
    full = tmp_path / "full.dcm"
    write_radiograph_dicom(pixels12, full, transfer_syntax=JPEG2000Lossless)
    data = full.read_bytes()
    for cut in (len(data) // 2, 600, 140):
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(data[:cut])
        _expect_error(path)


def test_wrong_modality_real_ct_and_mr(data_dir):
    folder = data_dir / "dicom_nifti" / "dicom_pydicom_wheel"
    _expect_error(folder / "CT_small.dcm", "Modality CT", "CR, DX")
    _expect_error(folder / "MR_small.dcm", "Modality MR")


def test_multi_frame_and_3d(tmp_path, pixels12, data_dir):
    path = tmp_path / "frames.dcm"
    ds = write_radiograph_dicom(pixels12, path)
    ds.NumberOfFrames = 3
    ds.PixelData = np.stack([pixels12] * 3).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    _expect_error(path, "multi-frame", "3 frames")
    _expect_error(data_dir / "dicom_nifti" / "nifti_nibabel_wheel" / "anatomical.nii", "(33, 41, 25)")
    _expect_error(data_dir / "dicom_nifti" / "nifti_nibabel_wheel" / "example4d.nii.gz", "2-D radiograph")


def test_no_pixel_data_and_non_image(tmp_path, pixels12):
    path = tmp_path / "nopix.dcm"
    ds = write_radiograph_dicom(pixels12, path)
    del ds.PixelData
    ds.save_as(path, enforce_file_format=True)
    _expect_error(path, "without pixel data")
    sr = tmp_path / "report.dcm"
    ds.Modality, ds.SOPClassUID = "SR", pydicom.uid.BasicTextSRStorage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.save_as(sr, enforce_file_format=True)
    _expect_error(sr, "non-image", "Basic Text SR")
    rt = tmp_path / "rtstruct.dcm"
    ds.Modality, ds.SOPClassUID = "RTSTRUCT", pydicom.uid.RTStructureSetStorage
    ds.save_as(rt, enforce_file_format=True)
    _expect_error(rt, "non-image", "RT Structure Set")


def test_rgb_secondary_capture_and_colour_png(tmp_path, pixels12):
    path = tmp_path / "rgb.dcm"
    ds = write_radiograph_dicom(pixels12, path)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.zeros((128, 128, 3), np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    _expect_error(path, "colour", "RGB")
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "colour.png")
    _expect_error(tmp_path / "colour.png", "colour")


def test_missing_and_not_an_image(tmp_path):
    _expect_error(tmp_path / "absent.dcm", "not found")
    (tmp_path / "notes.txt").write_text("not an image")
    _expect_error(tmp_path / "notes.txt", "cannot read")
    (tmp_path / "fake.dcm").write_bytes(b"\0" * 64)
    _expect_error(tmp_path / "fake.dcm", "cannot read")
