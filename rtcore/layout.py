"""Named layouts of a stage's f/s/i arrays, declared once per stage.

A stage's three arrays (rtcore.stage) are flat: named scalar slots first, then named segments
with shapes. A stage file declares them once, as text:

    LAYOUT = stage_layout("forward_model",
        f="mu eps Ad[n_x,n_x] Bd[n_x,n_u]",            # scalars mu, eps; segments Ad, Bd
        s="phi[n_f] W[n_x,n_f]",                       # state: segments start at zero
        i="u n_u y n_x n_f count=0")                    # i scalars (the dims among them)
    F, S, I = LAYOUT.F, LAYOUT.S, LAYOUT.I             # slot indices, for the @njit step

- Scalars come first in the array, then the segments, each group in the order written.
- A segment shape is a list of ints and dims; every dim is an i scalar of the same name, so the
  built arrays say their own sizes. `name=value` gives a scalar a default.
- Each segment's start lives in an i slot named `<array>_<segment>` (`I.s_phi`, `I.f_Ad`); the
  step reads `o = i[I.s_phi]; phi = s[o:o + n_f]` (no lookup by name on the hot path). A start
  that no dim moves (the first segment, and those after fixed-size ones) is also a constant,
  `LAYOUT.AT.s_phi`, so the step compiles to what a hand-written constant gave.
- F, S, I are NamedTuples of ints: Numba freezes a global tuple as a constant, so `f[F.mu]`
  compiles to the same machine code as `f[0]`, and caches like it.
- `LAYOUT.fill(f={...}, s={...}, i={...})` builds the three arrays by name: a missing name
  (without a default) or an unknown one raises, and each segment must have its declared shape.
  s names may be left out (state starts at zero).
- `LAYOUT.view(stage, "P")` is the segment reshaped to its shape (a view, not a copy), and
  `LAYOUT.get(stage, "count")` a scalar, for Python-side readers (tests, recorder, parent).
A stage's arrays are private to it: another stage reads what it writes on the bus, or a
function its file declares for that purpose.

A plain `Layout` names one array that is not a stage's (a kernel's parameter vector, a table row):
its `slots` hold the scalar slots and the starts of the segments whose sizes need no dims.
"""
import re
from collections import namedtuple

import numpy as np
from numba import njit

_TOKEN = re.compile(r"([A-Za-z]\w*)(?:\[([^\]]*)\])?(?:=(\S+))?")
ARRAYS = ("f", "s", "i")


def _parse(spec: str, where: str):
    scalars, defaults, segments = [], {}, []
    rest = _TOKEN.sub("", spec).strip()
    if rest:
        raise ValueError(f"{where}: cannot parse {rest!r} in the layout {spec!r}")
    for name, shape, default in _TOKEN.findall(spec):
        if shape:
            dims = tuple(int(d) if d.strip().isdigit() else d.strip() for d in shape.split(","))
            segments.append((name, dims))
        else:
            scalars.append(name)
            if default:
                defaults[name] = float(default)
    return scalars, defaults, segments


class Layout:
    """One flat array: named scalar slots, then named segments (shapes in ints and dims)."""

    def __init__(self, spec: str = "", name: str = "layout", dtype=np.float64, extra_scalars=()):
        self.name, self.dtype = name, np.dtype(dtype)
        self.scalars, self.defaults, self.segments = _parse(spec, name)
        self.scalars += list(extra_scalars)
        names = self.scalars + [n for n, _ in self.segments]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{name}: names declared twice: {', '.join(dup)}")
        self.dims = sorted({d for _, shape in self.segments for d in shape if isinstance(d, str)})
        self.scalar_slots = namedtuple(re.sub(r"\W", "_", name) + "_slots", self.scalars)(*range(len(self.scalars)))
        fixed, o = {}, len(self.scalars)  # segments whose start does not depend on a dim
        for n, shape in self.segments:
            fixed[n] = o
            if any(isinstance(d, str) for d in shape):
                break
            o += int(np.prod(shape, dtype=np.int64))
        self.fixed_starts = fixed
        #: Every position known before the dims: scalar slots and the starts of fixed segments.
        self.slots = namedtuple(re.sub(r"\W", "_", name) + "_at", self.scalars + list(fixed))(
            *range(len(self.scalars)), *fixed.values())

    @property
    def names(self) -> list:
        return self.scalars + [n for n, _ in self.segments]

    def shapes(self, dims: dict) -> dict:
        """Shape of each segment for these dims (a missing dim raises)."""
        missing = [d for d in self.dims if d not in dims]
        if missing:
            raise ValueError(f"{self.name}: dims {', '.join(missing)} not given")
        return {n: tuple(int(dims[d]) if isinstance(d, str) else d for d in shape) for n, shape in self.segments}

    def offsets(self, dims: dict) -> dict:
        """Start of each segment (after the scalars, in declared order) and the total size."""
        o, out = len(self.scalars), {}
        for n, shape in self.shapes(dims).items():
            out[n] = o
            o += int(np.prod(shape, dtype=np.int64))
        out[None] = o
        return out

    def size(self, dims: dict) -> int:
        return self.offsets(dims)[None]

    def check_names(self, values: dict, optional=(), zero: bool = False) -> None:
        """Raise on an unknown name, or on a missing one (unless it has a default, or zero)."""
        known = set(self.names) - set(optional)
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(f"{self.name}: unknown name(s) {', '.join(extra)}; declared: {', '.join(sorted(known))}")
        if not zero:
            missing = [n for n in self.names if n not in values and n not in self.defaults and n not in optional]
            if missing:
                raise ValueError(f"{self.name}: missing name(s) {', '.join(missing)}")

    def alloc(self, dims: dict | None = None) -> np.ndarray:
        """A zero array of this layout's size; scalar defaults set."""
        a = np.zeros(self.size(dims or {}), dtype=self.dtype)
        for n, v in self.defaults.items():
            a[self.scalars.index(n)] = v
        return a

    def fill(self, _dims: dict | None = None, _zero: bool = False, _optional=(), **values) -> np.ndarray:
        """The array with every scalar and segment set by name (shapes checked against _dims).

        _zero: names left out start at 0 (state arrays). _optional: names the caller sets later.
        (Declared names start with a letter, so they never clash with these underscored options.)"""
        self.check_names(values, _optional, _zero)
        dims = _dims or {}
        a = self.alloc(dims)
        shapes, offs = self.shapes(dims), self.offsets(dims)
        for n, v in values.items():
            if n in shapes:
                v = np.asarray(v, dtype=self.dtype)
                if v.ndim and v.shape != shapes[n] and v.shape != (int(np.prod(shapes[n])),):
                    raise ValueError(f"{self.name}.{n}: shape {v.shape}, declared {shapes[n]}")
                size = int(np.prod(shapes[n], dtype=np.int64))
                a[offs[n]:offs[n] + size] = v.ravel() if v.ndim else v
            else:
                a[self.scalars.index(n)] = v
        return a

    def view(self, a: np.ndarray, name: str, dims: dict | None = None) -> np.ndarray:
        """Segment `name` of a (reshaped, not copied); dims as for fill."""
        dims = dims or {}
        shape = self.shapes(dims)[name]
        o = self.offsets(dims)[name]
        return a[o:o + int(np.prod(shape, dtype=np.int64))].reshape(shape)


class StageLayout:
    """A stage's f, s and i layouts. The dims are i scalars; i also holds every segment's start."""

    def __init__(self, name: str, f: str = "", s: str = "", i: str = ""):
        self.name = name
        self.f = Layout(f, f"{name}.f")
        self.s = Layout(s, f"{name}.s")
        own = Layout(i, f"{name}.i", np.int64)
        starts = [f"{a}_{seg}" for a, lay in (("f", self.f), ("s", self.s), ("i", own)) for seg, _ in lay.segments]
        self.i = Layout(i, f"{name}.i", np.int64, extra_scalars=starts)
        self.starts = starts
        names = [n for lay in (self.f, self.s, self.i) for n in lay.names]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{name}: names declared in two arrays: {', '.join(dup)}")
        for lay in (self.f, self.s, self.i):
            for d in lay.dims:
                if d not in self.i.scalars:
                    raise ValueError(f"{name}: dim '{d}' of {lay.name} is not an i scalar")
        # scalar slots only: a segment's start is in i (I.s_<name>); AT holds the starts known at import
        self.F, self.S, self.I = self.f.scalar_slots, self.s.scalar_slots, self.i.scalar_slots
        fixed = {f"{a}_{seg}": o for a, lay in (("f", self.f), ("s", self.s), ("i", self.i))
                 for seg, o in lay.fixed_starts.items()}
        self.AT = namedtuple(re.sub(r"\W", "_", name) + "_at", list(fixed))(*fixed.values())

    def _lay(self, a: str) -> Layout:
        return {"f": self.f, "s": self.s, "i": self.i}[a]

    def fill(self, f: dict | None = None, s: dict | None = None, i: dict | None = None):
        """(f, s, i) arrays from values by name. Every f and i name is needed (or its default);
        s names left out start at zero. The segment starts in i are set here."""
        f, s, i = f or {}, s or {}, i or {}
        self.i.check_names(i, optional=self.starts)
        dims = {d: int(i[d]) if d in i else int(self.i.defaults[d]) for lay in (self.f, self.s, self.i) for d in lay.dims}
        fa = self.f.fill(dims, **f)
        sa = self.s.fill(dims, True, **s)
        ia = self.i.fill(dims, False, self.starts, **i)
        for a, lay in (("f", self.f), ("s", self.s), ("i", self.i)):
            for seg, o in lay.offsets(dims).items():
                if seg is not None:
                    ia[self.i.scalars.index(f"{a}_{seg}")] = o
        return fa, sa, ia

    def dims(self, i: np.ndarray) -> dict:
        return {d: int(i[self.i.scalars.index(d)]) for d in {d for lay in (self.f, self.s, self.i) for d in lay.dims}}

    def _where(self, name: str):
        for a in ARRAYS:
            if name in self._lay(a).names:
                return a
        raise KeyError(f"{self.name}: no '{name}' in f, s or i; declared: "
                       f"{', '.join(n for a in ARRAYS for n in self._lay(a).names)}")

    def view(self, stage, name: str) -> np.ndarray:
        """Segment `name` of a built stage (a Stage or an (f, s, i) tuple), reshaped; a view."""
        f, s, i = (stage.f, stage.s, stage.i) if hasattr(stage, "f") else stage
        a = self._where(name)
        lay = self._lay(a)
        shape = lay.shapes(self.dims(i))[name]
        o = int(i[self.i.scalars.index(f"{a}_{name}")])
        arr = {"f": f, "s": s, "i": i}[a]
        return arr[o:o + int(np.prod(shape, dtype=np.int64))].reshape(shape)

    def place(self, stage, name: str) -> tuple:
        """(array "f"/"s"/"i", start, shape) of segment or scalar `name` in a built stage's arrays
        (a scalar is a segment of shape (1,)): where a reader outside the stage finds it."""
        f, s, i = (stage.f, stage.s, stage.i) if hasattr(stage, "f") else stage
        a = self._where(name)
        lay = self._lay(a)
        if name in lay.scalars:
            return a, lay.scalars.index(name), (1,)
        return a, int(i[self.i.scalars.index(f"{a}_{name}")]), lay.shapes(self.dims(i))[name]

    def get(self, stage, name: str):
        """Scalar `name` of a built stage."""
        f, s, i = (stage.f, stage.s, stage.i) if hasattr(stage, "f") else stage
        a = self._where(name)
        return {"f": f, "s": s, "i": i}[a][self._lay(a).scalars.index(name)]

    def check(self, stage) -> None:
        """Raise unless the stage's arrays have exactly the declared sizes and segment starts."""
        f, s, i = (stage.f, stage.s, stage.i) if hasattr(stage, "f") else stage
        if i.size < len(self.i.scalars):
            raise ValueError(f"{self.name}: i has {i.size} slots, the layout {len(self.i.scalars)} scalars")
        dims = self.dims(i)
        for a, arr in (("f", f), ("s", s), ("i", i)):
            lay = self._lay(a)
            offs = lay.offsets(dims)
            if arr.size != offs[None]:
                raise ValueError(f"{self.name}: {a} has {arr.size} values, the layout {offs[None]} ({dims})")
            for seg, o in offs.items():
                if seg is not None and int(i[self.i.scalars.index(f'{a}_{seg}')]) != o:
                    raise ValueError(f"{self.name}: {a}.{seg} starts at {int(i[self.i.scalars.index(f'{a}_{seg}')])}, "
                                     f"the layout says {o}")


#: Every StageLayout declared (stage files declare theirs at import), by name.
REGISTRY: dict = {}


def stage_layout(name: str, f: str = "", s: str = "", i: str = "") -> StageLayout:
    """Declare (and register) a stage's layout; names must be unique."""
    if name in REGISTRY:
        raise ValueError(f"stage layout '{name}' declared twice")
    REGISTRY[name] = lay = StageLayout(name, f, s, i)
    return lay


@njit(cache=True, nogil=True, inline="always")
def seg(a, i, start_slot, size):
    """a[o:o + size], o = i[start_slot]: a segment inside a compiled step (a view, no allocation)."""
    o = i[start_slot]
    return a[o:o + size]
