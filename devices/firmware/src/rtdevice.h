/* Device side of the rtcore framed protocol: handshake, enable/disable, commands, watchdog, limits.
 *
 * Portable C99, no allocation, no Arduino calls: the board glue (main.cpp for Arduino, avr/main.c
 * for bare avr-libc) feeds it bytes and the time, drives the motors with rtdevice_drive() and
 * fills q/qd/tau from the sensors. The device enforces its own joint limits whatever the host
 * sends: position goals are clipped to [q_min, q_max], torques to +-tau_max, and a torque that
 * pushes a joint further past a position limit is not applied (FLAG_LIMIT, limit_clips).
 * Message layout: devices/protocols/framed.py (the host side). Behaviour is the same as the
 * host's emulator (devices/emulators/framed_arm.py), which has no joint limits of its own, tested
 * through test/harness.c; the whole firmware runs on a simulated chip in tests/test_firmware_hil.py.
 */
#ifndef RTDEVICE_H
#define RTDEVICE_H

#include "rtframe.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTDEVICE_PROTOCOL_VERSION 1
#ifndef RTDEVICE_MAX_JOINTS
#define RTDEVICE_MAX_JOINTS 16 /* an 8-bit board builds with -DRTDEVICE_MAX_JOINTS=<its joints> */
#endif

enum {
    MSG_HELLO = 0x01, MSG_ENABLE = 0x02, MSG_DISABLE = 0x03, MSG_COMMAND = 0x04, MSG_HEARTBEAT = 0x05,
    MSG_STATS = 0x06,
    MSG_HELLO_ACK = 0x81, MSG_STATE = 0x84, MSG_STATS_REPLY = 0x86, MSG_FAULT = 0x87
};
enum { MODE_TORQUE = 0, MODE_POSITION = 1 };
enum { FLAG_ENABLED = 0x01, FLAG_WATCHDOG = 0x02, FLAG_FAULT = 0x04, FLAG_LIMIT = 0x08 };
enum { FAULT_WATCHDOG = 1, FAULT_BAD_VERSION = 2, FAULT_BAD_COMMAND = 3 };

typedef void (*rtdevice_write_fn)(const uint8_t *wire, size_t n, void *ctx);

typedef struct {
    uint8_t n_joints;
    uint16_t watchdog_ms;
    uint8_t enabled, flags, mode, armed, seq;
    uint32_t last_host_ms;
    int32_t goal[RTDEVICE_MAX_JOINTS]; /* urad (MODE_POSITION) or uNm (MODE_TORQUE) */
    int32_t q[RTDEVICE_MAX_JOINTS];    /* urad, from the sensors */
    int32_t qd[RTDEVICE_MAX_JOINTS];   /* urad/s */
    int32_t tau[RTDEVICE_MAX_JOINTS];  /* uNm */
    int32_t q_min[RTDEVICE_MAX_JOINTS], q_max[RTDEVICE_MAX_JOINTS]; /* urad */
    int32_t tau_max[RTDEVICE_MAX_JOINTS];                          /* uNm */
    uint32_t rx_frames;      /* valid host frames */
    uint32_t watchdog_trips;
    uint32_t limit_clips;    /* commands the device limits changed */
    rtframe_parser parser;
    uint8_t tx_body[RTFRAME_MAX_BODY];
    uint8_t tx_wire[RTFRAME_MAX_WIRE];
    rtdevice_write_fn write;
    void *write_ctx;
} rtdevice;

/* No joint limits until rtdevice_set_limits. */
void rtdevice_init(rtdevice *d, uint8_t n_joints, uint16_t watchdog_ms, rtdevice_write_fn write, void *ctx);
void rtdevice_set_limits(rtdevice *d, uint8_t j, int32_t q_min_urad, int32_t q_max_urad, int32_t tau_max_unm);
/* What joint j's motor gets now: 0 when disabled (the safe state: zero torque), the goal in
 * position mode, the torque in torque mode unless it pushes the joint further past a limit. */
int32_t rtdevice_drive(const rtdevice *d, uint8_t j);
/* One received byte; replies are written through d->write. */
void rtdevice_feed(rtdevice *d, uint8_t b, uint32_t now_ms);
/* Call every loop: trips the watchdog (disable, FLAG_WATCHDOG, FAULT) when commands stop. */
void rtdevice_tick(rtdevice *d, uint32_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
