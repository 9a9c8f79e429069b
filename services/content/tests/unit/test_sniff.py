from __future__ import annotations

import io

import pytest
from content.media.sniff import InvalidImage, image_info, sniff
from PIL import Image


def _image(fmt: str, size: tuple[int, int] = (7, 5)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_images_are_recognised_by_their_bytes_and_measured(fmt, mime):
    data = _image(fmt)
    assert sniff(data[:32]) == mime
    info = image_info(data, mime)
    assert (info.width, info.height) == (7, 5)


def test_videos_are_recognised_by_their_containers():
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
    mkv = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska"
    assert sniff(mp4) == "video/mp4"
    assert sniff(webm) == "video/webm"
    assert sniff(mkv) is None


def test_other_files_are_not_accepted_whatever_their_name_claims():
    assert sniff(b"%PDF-1.7\n%\xe2\xe3") is None
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert sniff(b"MZ\x90\x00") is None
    assert sniff(b"") is None


def test_a_truncated_image_with_a_valid_signature_is_rejected():
    data = _image("PNG")
    with pytest.raises(InvalidImage):
        image_info(data[:40], "image/png")


def test_an_image_whose_bytes_are_another_format_is_rejected():
    with pytest.raises(InvalidImage):
        image_info(_image("PNG"), "image/jpeg")
