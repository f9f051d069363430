"""EMG calibration: rest and MVC envelope levels per channel from recorded raw EMG.

rest_c = mean envelope at rest; mvc_c = 99th percentile of the envelope during maximal voluntary
contraction; the decoder normalises u = (env - rest) / (mvc - rest). The envelopes come from the
decoder's own compiled chain (rtcore.decoders.emg), so calibration and decoding filter alike.
The first `settle_s` of each recording is dropped (filter start-up transient).
"""
import time

import numpy as np

from rtcore.decoders import persistence
from rtcore.decoders.emg import CALIBRATION_KIND, EmgDecoderConfig, chain_arrays, emg_envelope_block

SETTLE_S = 0.25  #: start-up transient dropped from each recording, s
MIN_USE_S = 0.5  #: recording needed after the transient, s
MVC_PERCENTILE = 99.0  #: envelope percentile taken as the MVC level


def _envelopes(cfg: EmgDecoderConfig, raw: np.ndarray, rate_hz: float) -> np.ndarray:
    n_ch = raw.shape[1]
    f, s, i = chain_arrays(cfg, n_ch, rate_hz, np.zeros(n_ch), np.ones(n_ch), np.eye(n_ch), "calibration")
    return emg_envelope_block(f, s, i, np.ascontiguousarray(raw, dtype=np.float64))


def _check(raw, name: str, rate_hz: float, n_ch: int | None):
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"calibration: the {name} recording must be [samples, channels], got shape {raw.shape}")
    need = int(np.ceil((SETTLE_S + MIN_USE_S) * rate_hz))
    if raw.shape[0] < need:
        raise ValueError(f"calibration: too few {name} samples: {raw.shape[0]} "
                         f"({raw.shape[0] / rate_hz:.2f} s at {rate_hz:g} Hz), need at least {need} "
                         f"({SETTLE_S + MIN_USE_S:g} s); record longer")
    if n_ch is not None and raw.shape[1] != n_ch:
        raise ValueError(f"calibration: the {name} recording has {raw.shape[1]} channels, the rest recording {n_ch}")
    bad = np.flatnonzero(~np.all(np.isfinite(raw), axis=0))
    if bad.size:
        raise ValueError(f"calibration: channel {int(bad[0])} has NaN/Inf samples in the {name} recording; "
                         f"check the stream and record again")
    return raw


def fit_emg_calibration(rest_raw, mvc_raw, rate_hz: float, cfg: EmgDecoderConfig) -> dict:
    """rest and mvc envelope levels [n_ch] (V) from raw rest and MVC recordings [samples, n_ch] (V).

    Errors (one line each): too few samples, non-finite samples, a channel that is all zero in
    the MVC recording (electrode off), or a channel whose MVC level is not above rest.
    """
    rest_raw = _check(rest_raw, "rest", rate_hz, None)
    mvc_raw = _check(mvc_raw, "MVC", rate_hz, rest_raw.shape[1])
    flat = np.flatnonzero(np.all(mvc_raw == mvc_raw[0], axis=0))
    if flat.size:
        raise ValueError(f"calibration: channel {int(flat[0])} is constant (all zero?) in the MVC recording; "
                         f"check that electrode or drop the channel from the mapping, then record again")
    skip = int(SETTLE_S * rate_hz)
    rest = _envelopes(cfg, rest_raw, rate_hz)[skip:].mean(axis=0)
    mvc = np.percentile(_envelopes(cfg, mvc_raw, rate_hz)[skip:], MVC_PERCENTILE, axis=0)
    weak = np.flatnonzero(mvc <= 1.5 * rest)
    if weak.size:
        c = int(weak[0])
        raise ValueError(f"calibration: channel {c}: MVC envelope {mvc[c]:.3g} is not clearly above rest "
                         f"{rest[c]:.3g}; contract harder during the MVC recording or check the electrode")
    return {"rest": rest, "mvc": mvc}


def save_emg_calibration(path, cal: dict, rate_hz: float, cfg: EmgDecoderConfig, stream: str = "") -> str:
    """Write rest/mvc (.npz) and metadata (.json: units, rate, filter settings and their hash)."""
    settings = cfg.model_dump(include={"bandpass_hz", "bandpass_order", "envelope_hz", "envelope_order"})
    meta = {"units": {"rest": "V", "mvc": "V"}, "rate_hz": rate_hz, "n_ch": int(cal["rest"].size),
            "fit_time": time.strftime("%Y-%m-%dT%H:%M:%S"), "stream": stream, "filters": settings,
            "config_hash": persistence.config_hash(settings)}
    return str(persistence.save(path, CALIBRATION_KIND, {"rest": cal["rest"], "mvc": cal["mvc"]}, meta))
