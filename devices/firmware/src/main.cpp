// rtcore reference firmware: an n-joint arm on the rtcore framed protocol.
//
// The protocol (framing, CRC, handshake, enable/disable, watchdog) lives in rtframe.c and
// rtdevice.c, which the host tests compile and check against the Python side. This file is
// the board glue: serial bytes in and out, the millisecond clock, and the two hooks to adapt
// to your hardware, read_joints() and drive_joints(). Safe state = zero torque (motor off).
#include <Arduino.h>

#include "rtboard.h"
#include "rtdevice.h"

#ifndef RT_BAUD
#define RT_BAUD 1000000
#endif

static rtdevice dev;

static void serial_write(const uint8_t *wire, size_t n, void *) { Serial.write(wire, n); }

// Adapt: fill q (urad), qd (urad/s), tau (uNm) from your encoders / current sensors.
static void read_joints(rtdevice *d) {
    for (uint8_t j = 0; j < d->n_joints; j++) {
        // placeholder: an ideal position servo that reports its goal
        if (d->enabled && d->mode == MODE_POSITION) d->q[j] = d->goal[j];
        d->qd[j] = 0;
        d->tau[j] = 0;
    }
}

// Adapt: send goal (urad or uNm per d->mode) to the motor drivers when enabled; otherwise
// command zero torque (the safe state the watchdog and DISABLE rely on).
static void drive_joints(const rtdevice *d) {
    for (uint8_t j = 0; j < d->n_joints; j++) {
        int32_t out = rtdevice_drive(d, j);  // 0 when disabled; within the device's own limits
        (void)out;  // e.g. analogWrite(pwm_pin[j], ...) or a CAN/SPI write to the driver
    }
}

void setup() {
    Serial.begin(RT_BAUD);
    rtdevice_init(&dev, RT_N_JOINTS, RT_WATCHDOG_MS, serial_write, nullptr);
    for (uint8_t j = 0; j < RT_N_JOINTS; j++) rtdevice_set_limits(&dev, j, RT_Q_MIN_URAD, RT_Q_MAX_URAD, RT_TAU_MAX_UNM);
}

void loop() {
    uint32_t now = millis();
    read_joints(&dev);
    while (Serial.available() > 0) rtdevice_feed(&dev, (uint8_t)Serial.read(), now);
    rtdevice_tick(&dev, now);
    drive_joints(&dev);
}
