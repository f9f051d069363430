"""Wiring checks of a built session: every decoded or commanded signal must move something.

Run by the pipeline once every stage is built and linked, from what the bus remembers
(rtcore.bus: the section that registered each signal, the sections that looked it up):
- the decoder's output that no stage reads is an error: the decoder runs and nothing moves
  (a Kalman decoder writing `intent` beside a cursor that reads `command`). Reading means a
  stage of the tick looks the signal up; an [[outlet]] that publishes it or record.signals
  listing it does not count as reading: then it is a warning (a decoder run open-loop on purpose);
- with a decoder, a plant `command` that no other stage drives is a warning (it stays 0).
"Written by two stages" is refused when the second stage registers the signal (Bus.add).
"""

PUBLISHERS = ("[outlet]",)  #: sections whose lookups publish a signal rather than read it


def _readers(bus, name: str) -> set:
    return {u for u in bus.users.get(name, set()) if u != bus.writers.get(name) and u not in PUBLISHERS}


def check(cfg, bus, config_path: str) -> list:
    """Raise ValueError (one line) for an unread decoded signal; return the warnings (one line each)."""
    warnings = []
    dec = getattr(cfg, "decoder", None)
    out = getattr(dec, "output", None)
    if out and bus.has(out) and bus.writers.get(out, "").startswith("[decoder]") and not _readers(bus, out):
        writer = bus.writers[out]
        published = "[outlet]" in bus.users.get(out, set()) or out in (cfg.record.signals or [])
        plant_reads = [n for n in ("command",) if bus.has(n) and bus.writers.get(n, "").startswith("[plant]")]
        fix = (f'; the plant reads \'{plant_reads[0]}\': set [plant] velocity_signal = "{out}" (a cursor), '
               f'add [controller] kind = "passthrough" (input = "{out}"), or set [decoder] output = "command"'
               if plant_reads else f"; add a stage that reads '{out}' (e.g. [controller] kind = \"passthrough\")")
        text = f"{config_path}: {writer} writes bus signal '{out}', which no stage reads, so it moves nothing{fix}"
        if not published:
            raise ValueError(text)
        warnings.append(text + " (it is only recorded or published)")
    if dec is not None and bus.has("command") and bus.writers.get("command", "").startswith("[plant]") \
            and not _readers(bus, "command"):
        warnings.append(f"{config_path}: no stage writes the plant's command; it stays 0 "
                        f"(add a [controller], or set [decoder] output = \"command\")")
    return warnings
