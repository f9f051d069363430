/* Device side of the rtcore framed protocol: handshake, enable/disable, commands, watchdog.
 *
 * Portable C99, no allocation, no Arduino calls: main.cpp feeds it bytes and the time, reads
 * `enabled`, `mode` and `goal` to drive the motors, and fills q/qd/tau from the sensors.
 * Message layout: devices/protocols/framed.py (the host side). Behaviour is the same as the
 * host's emulator (devices/emulators/framed_arm.py), tested through test/harness.c.
 */
#ifndef RTDEVICE_H
#define RTDEVICE_H

#include "rtframe.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTDEVICE_PROTOCOL_VERSION 1
#define RTDEVICE_MAX_JOINTS 16

enum {
    MSG_HELLO = 0x01, MSG_ENABLE = 0x02, MSG_DISABLE = 0x03, MSG_COMMAND = 0x04, MSG_HEARTBEAT = 0x05,
    MSG_HELLO_ACK = 0x81, MSG_STATE = 0x84, MSG_FAULT = 0x87
};
enum { MODE_TORQUE = 0, MODE_POSITION = 1 };
enum { FLAG_ENABLED = 0x01, FLAG_WATCHDOG = 0x02, FLAG_FAULT = 0x04 };
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
    uint32_t watchdog_trips;
    rtframe_parser parser;
    uint8_t tx_body[RTFRAME_MAX_BODY];
    uint8_t tx_wire[RTFRAME_MAX_WIRE];
    rtdevice_write_fn write;
    void *write_ctx;
} rtdevice;

void rtdevice_init(rtdevice *d, uint8_t n_joints, uint16_t watchdog_ms, rtdevice_write_fn write, void *ctx);
/* One received byte; replies are written through d->write. */
void rtdevice_feed(rtdevice *d, uint8_t b, uint32_t now_ms);
/* Call every loop: trips the watchdog (disable, FLAG_WATCHDOG, FAULT) when commands stop. */
void rtdevice_tick(rtdevice *d, uint32_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
