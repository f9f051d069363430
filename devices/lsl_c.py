"""liblsl C entry points for compiled code, bound by symbol name (pylsl == 1.18.6, liblsl 1.16+).

The shared library bundled in the pylsl wheel (`pylsl.lib.lib._name`) is loaded once into the
process, and each entry point is declared through rtcore.cbind (a Numba ExternalFunction, or a
ctypes function with the JIT off), so a compiled step pulls and pushes without the GIL and
still caches to disk. Handles are the C pointers behind pylsl objects (`inlet.obj.value`,
`outlet.obj.value`), stored as int64 in a stage's int array; pointer arguments take int64
addresses (`arr.ctypes.data + 8 * k`). The `int32_t *ec` out-parameter points into a scratch
int32 array the stage keeps alive (Stage.keep).

Declared (include/lsl/inlet.h, outlet.h, common.h of liblsl 1.16):
    double lsl_local_clock(void);
    unsigned long lsl_pull_chunk_d(lsl_inlet in, double *data, double *stamps,
                                   unsigned long data_elements, unsigned long stamp_elements,
                                   double timeout, int32_t *ec);      // returns values written
    double lsl_pull_sample_d(lsl_inlet in, double *buf, int32_t n, double timeout, int32_t *ec);
                                                                      // stamp, 0.0 = no sample
    double lsl_pull_sample_str(lsl_inlet in, char **buf, int32_t n, double timeout, int32_t *ec);
                                        // liblsl mallocs each string: free it with lsl_destroy_string
    void lsl_destroy_string(char *s);
    uint32_t lsl_samples_available(lsl_inlet in);
    uint32_t lsl_was_clock_reset(lsl_inlet in);
    double lsl_time_correction(lsl_inlet in, double timeout, int32_t *ec);
    int32_t lsl_push_sample_dtp(lsl_outlet out, const double *data, double stamp, int32_t pushthrough);
    int32_t lsl_push_chunk_dtp(lsl_outlet out, const double *data, unsigned long data_elements,
                               double stamp, int32_t pushthrough);   // stamp of the last sample
    int32_t lsl_have_consumers(lsl_outlet out);
Every pull/push converts between double and the stream's numeric channel format in liblsl.
"""
import pylsl
import pylsl.lib
from numba import njit, types

from rtcore import cbind, cptr

PYLSL_VERSION = "1.18.6"  #: the pylsl whose bundled liblsl and handle layout (obj.value) this module uses

if pylsl.__version__ != PYLSL_VERSION:
    raise ImportError(f"devices.lsl_c binds the liblsl bundled in pylsl {PYLSL_VERSION}, found pylsl "
                      f"{pylsl.__version__}; install pylsl=={PYLSL_VERSION}")

LIBRARY_PATH = pylsl.lib.lib._name

# Error codes (include/lsl/common.h, lsl_error_code_t)
LSL_NO_ERROR = 0
LSL_TIMEOUT_ERROR = -1  #: the operation timed out
LSL_LOST_ERROR = -2  #: the stream was lost and cannot be recovered (no source_id)
LSL_ARGUMENT_ERROR = -3
LSL_INTERNAL_ERROR = -4

# Channel formats (lsl_channel_format_t) that pull/push as numbers
NUMERIC_FORMATS = {1: "float32", 2: "double64", 4: "int32", 5: "int16", 6: "int8", 7: "int64"}
FORMAT_CODES = {name: code for code, name in NUMERIC_FORMATS.items()}
STRING_FORMAT = 3  #: cf_string: text samples (marker streams), pulled with lsl_pull_sample_str

_p, _f64, _i32, _u32, _u64 = types.voidptr, types.float64, types.int32, types.uint32, types.uint64


def _c(name, restype, *argtypes):
    return cbind.extern(LIBRARY_PATH, name, restype, argtypes)


lsl_local_clock = _c("lsl_local_clock", _f64)
lsl_pull_chunk_d = _c("lsl_pull_chunk_d", _u64, _p, _p, _p, _u64, _u64, _f64, _p)
lsl_pull_sample_d = _c("lsl_pull_sample_d", _f64, _p, _p, _i32, _f64, _p)
lsl_pull_sample_str = _c("lsl_pull_sample_str", _f64, _p, _p, _i32, _f64, _p)
lsl_destroy_string = _c("lsl_destroy_string", types.void, _p)
lsl_samples_available = _c("lsl_samples_available", _u32, _p)
lsl_inlet_flush = _c("lsl_inlet_flush", _u32, _p)
lsl_was_clock_reset = _c("lsl_was_clock_reset", _u32, _p)
lsl_time_correction = _c("lsl_time_correction", _f64, _p, _f64, _p)
lsl_push_sample_dtp = _c("lsl_push_sample_dtp", _i32, _p, _p, _f64, _i32)
lsl_push_sample_strtp = _c("lsl_push_sample_strtp", _i32, _p, _p, _f64, _i32)  # const char** sample
lsl_push_chunk_dtp = _c("lsl_push_chunk_dtp", _i32, _p, _p, _u64, _f64, _i32)
lsl_have_consumers = _c("lsl_have_consumers", _i32, _p)


@njit(cache=True, nogil=True, inline="always")
def ec_slot(i, k):
    """Zero the int64 slot i[k] and return its address, for liblsl's `int32_t *ec` out-parameter
    (it writes the low 4 bytes, little-endian)."""
    i[k] = 0
    return i.ctypes.data + 8 * k


@njit(cache=True, nogil=True, inline="always")
def ec_value(i, k):
    """The int32 error code liblsl wrote into slot i[k]."""
    v = i[k] & 0xFFFFFFFF
    return v - 0x100000000 if v >= 0x80000000 else v


@njit(cache=True, nogil=True, inline="always")
def text_bytes(addr, n):
    """uint8[n] view of a string liblsl allocated (read up to its terminating 0 only)."""
    return cptr.u8_view(addr, n)


def handle(obj) -> int:
    """The C handle (lsl_inlet / lsl_outlet) of a pylsl StreamInlet or StreamOutlet, as int."""
    return int(obj.obj.value)


def release(stage, slot: int) -> None:
    """After the loop: zero the handle in stage.i[slot] and drop the pylsl objects the stage keeps
    (their destructors call lsl_destroy_inlet / lsl_destroy_outlet)."""
    stage.i[slot] = 0
    stage.keep.clear()
