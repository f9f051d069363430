"""Second-order-section (SOS) IIR filters: design at build time, run per sample in compiled code.

Design uses scipy.signal.butter(..., output="sos") once, off the hot path; the per-sample
kernel is direct form II transposed, one section after another, over flat arrays with offsets,
so a stage keeps its coefficients in its f array and its filter memories in its s array.
"""
import numpy as np
from numba import njit

SOS_WIDTH = 6  #: coefficients per section: b0 b1 b2 a0 a1 a2 (a0 = 1)
SOS_STATE = 2  #: memories per section (direct form II transposed)


def design_butter(btype: str, corners_hz, order: int, rate_hz: float, where: str) -> np.ndarray:
    """Butterworth SOS coefficients, [n_sections, 6], checked against the Nyquist rate.

    btype: "bandpass" (corners_hz = [low, high]), "lowpass" or "highpass" (one corner).
    Errors name `where` (the config key) and the fix in one line.
    """
    corners = np.atleast_1d(np.asarray(corners_hz, dtype=np.float64))
    nyq = 0.5 * rate_hz
    if np.any(corners <= 0.0) or np.any(corners >= nyq):
        raise ValueError(f"{where}: corner(s) {corners.tolist()} Hz must lie in (0, {nyq:g}) Hz, "
                         f"the Nyquist range of a {rate_hz:g} Hz input; lower them or raise the input rate")
    if btype == "bandpass" and not corners[0] < corners[1]:
        raise ValueError(f"{where}: band-pass corners {corners.tolist()} Hz must be [low, high] with low < high")
    wn = corners if btype == "bandpass" else corners[0]
    from scipy import signal  # here, not at import: scipy.signal takes ~1.5 s to load and every CLI start would pay it
    return np.ascontiguousarray(signal.butter(order, wn, btype=btype, fs=rate_hz, output="sos"), dtype=np.float64)


@njit(cache=True, nogil=True, inline="always")
def sos_sample(f, c_off, n_sec, s, z_off, x):
    """One sample through n_sec cascaded sections (direct form II transposed).

    y = b0 x + z0;  z0 <- b1 x - a1 y + z1;  z1 <- b2 x - a2 y   (per section, a0 = 1).
    f[c_off : c_off + 6 n_sec]: coefficients; s[z_off : z_off + 2 n_sec]: memories (updated).
    """
    for k in range(n_sec):
        c = c_off + SOS_WIDTH * k
        z = z_off + SOS_STATE * k
        y = f[c] * x + s[z]
        s[z] = f[c + 1] * x - f[c + 4] * y + s[z + 1]
        s[z + 1] = f[c + 2] * x - f[c + 5] * y
        x = y
    return x
