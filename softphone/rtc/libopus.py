"""libopus called directly (ctypes), for the one Opus format every call uses.

Why: PyAV's encode runs every 20 ms frame through an ``AudioResampler``
filter graph (to re-frame it) and builds ``Fraction`` time bases and packet
objects around libopus; measured in a steady call (py-spy --native), that
wrapping cost more main-thread time than libopus's own encoding, and the
decode side a third of it again. No maintained Python binding of libopus
exists on PyPI (``opuslib`` was last released in 2018), and the calls needed
are five C functions, so they are bound here.

Which libopus: the copy bundled in PyAV's wheel (``av.libs/libopus-*.so*``,
the library PyAV itself links), else the system's (Debian's ``libopus0``,
found by ``ctypes.util.find_library``). With neither,
:func:`load` returns None and the callers keep PyAV's path: nothing stops
working, it only costs more.

The settings are aiortc 1.16.0's (``aiortc/codecs/opus.py``) as FFmpeg's
libopus wrapper applies them: 48 kHz, ``application=voip``, 96 kbit/s VBR,
complexity 10, 20 ms frames; one channel (see ``internals.MonoOpusEncoder``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import logging
import os

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48000
APPLICATION_VOIP = 2048  # OPUS_APPLICATION_VOIP
SET_BITRATE = 4002  # OPUS_SET_BITRATE_REQUEST
SET_COMPLEXITY = 4010  # OPUS_SET_COMPLEXITY_REQUEST
BITRATE = 96000
COMPLEXITY = 10
#: RFC 6716: a packet holds at most 120 ms of audio, and an encoded frame
#: never needs more than 1275 bytes per 20 ms; 4000 is libopus's own advice.
MAX_PACKET_BYTES = 4000
MAX_FRAME_SAMPLES = SAMPLE_RATE * 120 // 1000


class OpusError(Exception):
    """libopus returned an error code; the message is libopus's own text."""


class Library:
    """The loaded libopus with the prototypes of the functions used."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        self.path = path
        c_int, c_void_p = ctypes.c_int, ctypes.c_void_p
        lib.opus_encoder_create.argtypes = [ctypes.c_int32, c_int, c_int, ctypes.POINTER(c_int)]
        lib.opus_encoder_create.restype = c_void_p
        lib.opus_encoder_ctl.argtypes = [c_void_p, c_int, c_int]  # the int-valued setters
        lib.opus_encoder_ctl.restype = c_int
        lib.opus_encode.argtypes = [c_void_p, c_void_p, c_int, c_void_p, ctypes.c_int32]
        lib.opus_encode.restype = ctypes.c_int32
        lib.opus_encoder_destroy.argtypes = [c_void_p]
        lib.opus_encoder_destroy.restype = None
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, c_int, ctypes.POINTER(c_int)]
        lib.opus_decoder_create.restype = c_void_p
        lib.opus_decode.argtypes = [
            c_void_p, ctypes.c_char_p, ctypes.c_int32, c_void_p, c_int, c_int
        ]  # fmt: skip
        lib.opus_decode.restype = c_int
        lib.opus_decoder_destroy.argtypes = [c_void_p]
        lib.opus_decoder_destroy.restype = None
        lib.opus_strerror.argtypes = [c_int]
        lib.opus_strerror.restype = ctypes.c_char_p
        self.lib = lib

    def error(self, code: int, doing: str) -> OpusError:
        text = self.lib.opus_strerror(code) or b"unknown error"
        return OpusError(f"libopus {doing}: {text.decode(errors='replace')} ({code})")


def _candidates() -> list[str]:
    """Where libopus may be, in the order tried: PyAV's bundled copy, then the system's.

    PyAV's copy first: it is the library Opus went through before (same
    version, same output), and it is a newer libopus than Debian 12's 1.3.1,
    measured 20-30 % faster at encoding on this machine.
    """
    found = []
    try:
        import av  # PyAV is a dependency of aiortc; its wheel carries libopus

        libs = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
        found += sorted(glob.glob(os.path.join(libs, "libopus-*.so*")))
    except ImportError:  # pragma: no cover - aiortc cannot run without PyAV
        pass
    system = ctypes.util.find_library("opus")
    if system:
        found.append(system)
    return found


@functools.cache
def load() -> Library | None:
    """libopus, loaded once per process; None (logged once) when none can be loaded."""
    for path in _candidates():
        try:
            return Library(path)
        except (OSError, AttributeError) as exc:  # not loadable, or not libopus
            logger.debug("libopus at %s not usable: %s", path, exc)
    logger.info("libopus not found; Opus goes through PyAV (more CPU per call)")
    return None


class Encoder:
    """One mono 48 kHz Opus encoder, encoding 16-bit samples from a memory address."""

    def __init__(self, library: Library, bitrate: int = BITRATE) -> None:
        self._lib = library.lib
        self._library = library
        error = ctypes.c_int()
        handle = self._lib.opus_encoder_create(
            SAMPLE_RATE, 1, APPLICATION_VOIP, ctypes.byref(error)
        )
        if not handle or error.value != 0:
            raise library.error(error.value, "encoder_create")
        self._handle: int | None = handle
        for request, value in ((SET_BITRATE, bitrate), (SET_COMPLEXITY, COMPLEXITY)):
            code = self._lib.opus_encoder_ctl(handle, request, value)
            if code != 0:
                raise library.error(code, f"encoder_ctl({request})")
        self._out = ctypes.create_string_buffer(MAX_PACKET_BYTES)

    def encode(self, samples_address: int, samples: int) -> bytes:
        """Encode ``samples`` int16 samples read at ``samples_address`` (a frame's plane)."""
        if self._handle is None:
            raise OpusError("libopus encode: the encoder is closed")
        size = self._lib.opus_encode(
            self._handle, samples_address, samples, self._out, MAX_PACKET_BYTES
        )
        if size < 0:
            raise self._library.error(size, "encode")
        return ctypes.string_at(self._out, size)

    def close(self) -> None:
        if self._handle is not None:
            self._lib.opus_encoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()


class Decoder:
    """One mono 48 kHz Opus decoder (stereo packets are downmixed by libopus)."""

    def __init__(self, library: Library) -> None:
        self._lib = library.lib
        self._library = library
        error = ctypes.c_int()
        handle = self._lib.opus_decoder_create(SAMPLE_RATE, 1, ctypes.byref(error))
        if not handle or error.value != 0:
            raise library.error(error.value, "decoder_create")
        self._handle: int | None = handle
        self._pcm = (ctypes.c_int16 * MAX_FRAME_SAMPLES)()
        self._pcm_bytes = memoryview(self._pcm).cast("B")

    def decode(self, packet: bytes) -> memoryview:
        """The packet's samples (int16, native order), valid until the next call."""
        if self._handle is None:
            raise OpusError("libopus decode: the decoder is closed")
        samples = self._lib.opus_decode(
            self._handle, packet, len(packet), self._pcm, MAX_FRAME_SAMPLES, 0
        )
        if samples < 0:
            raise self._library.error(samples, "decode")
        return self._pcm_bytes[: 2 * samples]

    def close(self) -> None:
        if self._handle is not None:
            self._lib.opus_decoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
