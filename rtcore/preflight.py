"""Checks a session config before anything starts: every file it names is found and read.

`rtcore run` calls `check` after the config validated and before the supervisor starts any
companion, child or stream, so a missing, truncated or corrupt file is one line naming the key
and the file, with nothing started. Relative paths are resolved as the build does (beside the
config file, else the current folder) and written back absolute, so the child, which only sees
the resolved config, opens the same files whatever its working folder.

Files checked: decoder.calibration_file (emg), decoder.decoder_file (kalman),
decoder.weights_file (linear), plant.model_path (mjcf: the plant is built on a scratch bus),
source.path (replay).
"""
from rtcore.configbase import ConfigError, resolve_path


def _decoder(cfg, config_path: str) -> None:
    from rtcore.decoders import kalman_fit, persistence
    from rtcore.decoders.emg import CALIBRATION_KIND
    dec = cfg.decoder
    checks = {"calibration_file": lambda p, w: persistence.load(p, CALIBRATION_KIND, ("rest", "mvc"), w),
              "decoder_file": kalman_fit.load_kalman,
              "weights_file": persistence.load_arrays}
    for key, load in checks.items():
        value = getattr(dec, key, None)
        if value:
            path = str(resolve_path(value, config_path))
            load(path, f"decoder.{key}")
            setattr(dec, key, path)


def _plant(cfg, config_path: str) -> None:
    """An MJCF plant is built once on a scratch bus (no I/O): the model loads, and its actuator,
    joint, sensor and site names in the config exist."""
    from rtcore.bus import Bus
    from rtcore.stage import BuildContext
    from sims.plants import mjcf
    ctx = BuildContext(bus=Bus(), dt_s=1.0 / cfg.loop.rate_hz, seed=cfg.session.seed, realtime=False,
                       session_name=cfg.session.name, config_path=config_path)
    mjcf.build(cfg.plant, ctx)
    cfg.plant.model_path = str(resolve_path(cfg.plant.model_path, config_path).resolve())


def _replay(src, config_path: str) -> None:
    from rtcore import xdf
    path = resolve_path(src.path, config_path)
    try:
        xdf.load(str(path))
    except FileNotFoundError:
        raise ValueError(f"source.path: no such file '{src.path}'") from None
    except Exception as e:  # pyxdf raises whatever its parser hits on a damaged file
        raise ValueError(f"source.path: '{path}' is not a readable XDF recording ({type(e).__name__}: {e})") from None
    src.path = str(path.resolve())


def check(cfg, config_path: str):
    """Read every file cfg names; returns cfg with absolute paths. Raises ConfigError (one line)."""
    try:
        if cfg.decoder is not None:
            _decoder(cfg, config_path)
        if cfg.plant is not None and cfg.plant.kind == "mjcf":
            _plant(cfg, config_path)
        for src in cfg.source:
            if src.kind == "replay":
                _replay(src, config_path)
    except ValueError as e:
        raise ConfigError(f"{config_path}: {e}") from None
    return cfg
