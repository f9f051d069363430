"""Late binding of bus signals that a source reads but a later-built stage writes.

A synthetic user is a source: it runs first in the tick and reacts to the arm `state` and the
task's `target` from the previous tick, yet those signals are registered by the plant and the
task, which are built after the sources. `bind_signal` stores the offset now if the signal
exists, else queues a lookup in ctx.extra["link"]; `run_links` resolves the queue once the
chain is built (devices.lsl.outlet's build_from_session calls it, being the last family before
the packing; calling it twice is harmless).
"""


def bind_signal(ctx, stage, slot: int, name: str, index: int, width: int, who: str) -> None:
    """Set stage.i[slot] to the bus offset of name[index] (reading `width` channels), now or at link time."""

    def link(bus):
        sig = bus.get(name, who=who)
        if sig.width < index + width:
            raise ValueError(f"{who}: bus signal '{name}' has {sig.width} channels, "
                             f"needs {index + width} (index {index} + {width})")
        stage.i[slot] = sig.offset + index

    if ctx.bus.has(name):
        link(ctx.bus)
    else:
        ctx.extra.setdefault("link", []).append(link)


def run_links(ctx) -> None:
    """Resolve every queued lookup against the complete bus (clear errors name the missing signal)."""
    pending = ctx.extra.pop("link", [])
    for link in pending:
        link(ctx.bus)
