/* rtcore reference firmware, bare avr-libc build for the ATmega328P (Arduino Uno, 16 MHz).
 *
 * The same protocol code as the Arduino sketch (src/main.cpp): framing and CRC (src/rtframe.c),
 * handshake, enable/disable, limits and watchdog (src/rtdevice.c). Here the arm's joints are
 * simulated on the chip (src/rtjoint.c), so that the binary runs as a complete device on a
 * simulated ATmega328P (simavr, devices/firmware/hil/simavr_hil.c): hardware in the loop.
 *
 * Board resources:
 *   USART0 (PD0 RX, PD1 TX): RT_BAUD, 8N1, double speed (U2X0); interrupt-driven ring buffers.
 *   Timer0 CTC at 1 kHz: the millisecond clock, the watchdog and the joint model's step.
 *   PB5 (Arduino D13, the on-board LED): MOTOR ENABLE, high while torque is on. Disable and the
 *     protocol watchdog pull it low (the safe state: the motor driver's enable line).
 *   The AVR hardware watchdog (30 ms) resets the chip if the main loop stalls; PB5 resets low.
 * Between events the CPU sleeps in idle mode; any interrupt wakes it.
 * Build: `make` in devices/firmware (Makefile; flash and RAM sizes printed).
 */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "rtboard.h"
#include "rtdevice.h"
#include "rtjoint.h"

#ifndef RT_BAUD
#define RT_BAUD 115200UL
#endif
#ifndef RT_SERVO_TAU_MS
#define RT_SERVO_TAU_MS 50 /* simulated position servo time constant, ms */
#endif

#define MOTOR_ENABLE_BIT PB5
#define RX_SIZE 64 /* ring sizes: powers of two */
#define TX_SIZE 128

static rtdevice dev;
static rtjoint joints[RT_N_JOINTS];

static volatile uint32_t clock_ms;
static volatile uint8_t rx_buf[RX_SIZE], rx_head, rx_tail;
static volatile uint8_t tx_buf[TX_SIZE], tx_head, tx_tail;
static volatile uint16_t rx_overruns; /* bytes lost because the main loop fell behind */
static uint16_t tx_overruns;          /* replies dropped because the line was still busy */

ISR(TIMER0_COMPA_vect) { clock_ms++; }

ISR(USART_RX_vect) {
    uint8_t b = UDR0;
    uint8_t next = (uint8_t)((rx_head + 1) & (RX_SIZE - 1));
    if (next == rx_tail) {
        rx_overruns++;
        return;
    }
    rx_buf[rx_head] = b;
    rx_head = next;
}

ISR(USART_UDRE_vect) {
    if (tx_tail == tx_head) {
        UCSR0B &= (uint8_t)~_BV(UDRIE0);
        return;
    }
    UDR0 = tx_buf[tx_tail];
    tx_tail = (uint8_t)((tx_tail + 1) & (TX_SIZE - 1));
}

/* rtdevice's writer: queue the frame; the UDRE interrupt sends it at the line rate. A frame that
 * does not fit is dropped whole (counted): the control loop never waits for the line, and the
 * host sees a missed reply rather than a device that stops reading its commands. */
static void serial_write(const uint8_t *wire, size_t n, void *ctx) {
    (void)ctx;
    uint8_t used = (uint8_t)((tx_head - tx_tail) & (TX_SIZE - 1));
    if (n > (size_t)(TX_SIZE - 1 - used)) {
        tx_overruns++;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        tx_buf[tx_head] = wire[k];
        tx_head = (uint8_t)((tx_head + 1) & (TX_SIZE - 1));
    }
    UCSR0B |= _BV(UDRIE0);
}

static uint32_t millis(void) {
    uint32_t t;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { t = clock_ms; }
    return t;
}

static void uart_init(void) {
    uint16_t ubrr = (uint16_t)((F_CPU + 4UL * RT_BAUD) / (8UL * RT_BAUD) - 1UL); /* U2X: F_CPU / (8 (UBRR + 1)) */
    UCSR0A = _BV(U2X0); /* before UBRR0L: simavr derives its byte time when UBRR0L is written */
    UBRR0H = (uint8_t)(ubrr >> 8);
    UBRR0L = (uint8_t)ubrr;
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
}

static void clock_init(void) {
    TCCR0A = _BV(WGM01);             /* CTC */
    OCR0A = (uint8_t)(F_CPU / 64UL / 1000UL - 1UL);
    TCCR0B = _BV(CS01) | _BV(CS00); /* clk / 64 */
    TIMSK0 = _BV(OCIE0A);
}

/* Sensors: the simulated joints, in the wire's fixed point. */
static void read_joints(void) {
    for (uint8_t j = 0; j < RT_N_JOINTS; j++) {
        dev.q[j] = (int32_t)(joints[j].q_rad * 1e6f);
        dev.qd[j] = (int32_t)(joints[j].qd_rad_s * 1e6f);
        dev.tau[j] = (int32_t)(joints[j].tau_nm * 1e6f);
    }
}

/* Motors: what the driver applies (zero torque when disabled), into the simulated joints. */
static void drive_joints(float dt_s) {
    for (uint8_t j = 0; j < RT_N_JOINTS; j++)
        rtjoint_step(&joints[j], dt_s, dev.enabled, dev.mode == MODE_POSITION, rtdevice_drive(&dev, j));
    if (dev.enabled)
        PORTB |= _BV(MOTOR_ENABLE_BIT);
    else
        PORTB &= (uint8_t)~_BV(MOTOR_ENABLE_BIT);
}

int main(void) {
    MCUSR = 0;
    wdt_disable();
    DDRB |= _BV(MOTOR_ENABLE_BIT);
    PORTB &= (uint8_t)~_BV(MOTOR_ENABLE_BIT);
    rtdevice_init(&dev, RT_N_JOINTS, RT_WATCHDOG_MS, serial_write, 0);
    for (uint8_t j = 0; j < RT_N_JOINTS; j++) {
        rtdevice_set_limits(&dev, j, RT_Q_MIN_URAD, RT_Q_MAX_URAD, RT_TAU_MAX_UNM);
        rtjoint_init(&joints[j], RT_SERVO_TAU_MS * 1e-3f, 0.01f, 0.05f, 6.0f);
    }
    uart_init();
    clock_init();
    set_sleep_mode(SLEEP_MODE_IDLE);
    wdt_enable(WDTO_30MS);
    sei();
    uint32_t stepped_ms = 0;
    for (;;) {
        wdt_reset();
        uint32_t now = millis();
        read_joints();
        while (rx_tail != rx_head) {
            uint8_t b = rx_buf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) & (RX_SIZE - 1));
            rtdevice_feed(&dev, b, now);
        }
        if (now != stepped_ms) {
            uint32_t elapsed = now - stepped_ms;
            stepped_ms = now;
            rtdevice_tick(&dev, now);
            drive_joints((elapsed > 50 ? 50 : elapsed) * 1e-3f);
        } else {
            drive_joints(0.0f); /* the enable line follows a DISABLE at once */
        }
        cli();
        if (rx_tail == rx_head && clock_ms == now) {
            sleep_enable();
            sei();
            sleep_cpu(); /* woken by the next byte or millisecond */
            sleep_disable();
        }
        sei();
    }
}
