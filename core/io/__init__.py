"""Files in: scanned/photographed pages (images, PDFs) and WFDB records with their labels."""
from core.io.errors import ImageLoadError, InputFileError, RecordLoadError
from core.io.images import FORMATS, LoadedImage, image_info, load_image
from core.io.records import Record, RecordRow, data_dir, read_labels, read_record

__all__ = [
    "FORMATS",
    "ImageLoadError",
    "InputFileError",
    "LoadedImage",
    "Record",
    "RecordLoadError",
    "RecordRow",
    "data_dir",
    "image_info",
    "load_image",
    "read_labels",
    "read_record",
]
