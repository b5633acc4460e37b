"""OCR of pages without a usable text layer: Tesseract (Debian's tesseract-ocr, English and Portuguese data)
through pytesseract, giving positioned words in the same shape as a text layer's, so the same table reader
reads them. Values read this way carry source "ocr".
"""

from __future__ import annotations

import os
import shutil

import pypdfium2 as pdfium

from ysh_assets.datasheets.layout import Line, Word, lines_from_words

OCR_DPI = 300
OCR_LANGUAGES = "eng+por"
OCR_PAGE_TIMEOUT_SECONDS = 60
MIN_CONFIDENCE = 30  # Tesseract's per-word confidence (0-100); below it a word is more noise than text


class OcrUnavailable(RuntimeError):
    """Tesseract or its language data is not installed."""


def ocr_available() -> str | None:
    """None when OCR can run, else why not (shown in the quarantine reason of a sheet that needed it)."""
    if shutil.which("tesseract") is None:
        return "tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-por)"
    try:
        import pytesseract

        languages = set(pytesseract.get_languages(config=""))
    except Exception as error:  # a broken install must read as "unavailable", not crash the extraction
        return f"tesseract cannot run: {error}"
    missing = set(OCR_LANGUAGES.split("+")) - languages
    return f"tesseract language data missing: {', '.join(sorted(missing))}" if missing else None


def ocr_lines(page: pdfium.PdfPage, page_no: int) -> list[Line]:
    """Render one page at 300 dpi, OCR it and return its lines in PDF points (the text layer's units)."""
    import pytesseract

    # Tesseract's OpenMP threads spin against each other on a small machine: one thread is about 8x faster here
    # (3.7 s against 31 s for the SOFAR page). The variable reaches the tesseract child process.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    scale = OCR_DPI / 72
    image = page.render(scale=scale, grayscale=True).to_pil()
    data = pytesseract.image_to_data(
        image,
        lang=OCR_LANGUAGES,
        config="--psm 11",  # sparse text: table cells, not paragraphs
        output_type=pytesseract.Output.DICT,
        timeout=OCR_PAGE_TIMEOUT_SECONDS,
    )
    words = []
    for text, conf, left, top, width, height in zip(
        data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"], strict=True
    ):
        if not text.strip() or float(conf) < MIN_CONFIDENCE:
            continue
        x0, y0 = left / scale, top / scale
        words.append(Word(x0, x0 + width / scale, y0, y0 + height / scale, text, height / scale / 0.72))
    return lines_from_words(words, page_no)
