/* Hardware in the loop: the rtcore firmware ELF on a simulated ATmega328P (simavr), its USART0 on
 * a pseudo-terminal at the line rate, in real time.
 *
 *   simavr_hil FIRMWARE.elf [--mcu atmega328p] [--freq 16000000] [--lead-us 200]
 *
 * Timing. simavr runs the AVR as fast as the host allows; this harness holds it to the wall
 * clock. The simulation runs ahead of the wall clock by up to a lead (200 us), then waits in
 * ppoll until the wall clock has caught up, waking for host bytes and for device bytes that are
 * due. The line is modelled at the baud rate the firmware programmed (UBRR0, U2X0): host bytes
 * enter the chip's receiver one byte time apart, and device bytes reach the host when their stop
 * bit ends on the wall clock, one byte time apart, so a frame takes its real time on the wire.
 * A host byte enters the chip up to one lead late (the simulation was already ahead). If the
 * simulation falls behind the wall clock (a busy machine), it catches up by at most 1 ms; beyond
 * that the clocks are re-anchored (a slip: simulated time lost against the wall clock, counted
 * and summed in `stats`) rather than replaying the backlog faster than real time, which would
 * shorten the bytes on the wire. Simulated time itself is exact: timings measured in it (the
 * watchdog) do not depend on the machine's load.
 *
 * The pty's line speed is checked against the firmware's: the host's termios speed (read on the
 * slave side, which this harness also holds open) must be within 5% of the programmed rate, or
 * bytes in both directions are lost, as on a real line at the wrong baud rate.
 *
 * The firmware's MOTOR ENABLE line (PB5) is watched: each edge is reported with its simulated
 * time and the simulated time since the last complete host frame reached the chip.
 *
 * Protocol (stdout lines; simavr's own messages go to stderr):
 *   pty PATH                                the device port, first line
 *   uart baud=B byte_us=T                   when the firmware programs the USART
 *   enable E sim_us=T since_rx_us=T         on each edge of the enable line
 *   baud_match M host=B device=B            when the host's line speed starts or stops matching
 *   stats sim_us=.. wall_us=.. ...          in answer to "stats"
 *   exit REASON sim_us=T                    when the AVR stops (crash, sleep with interrupts off)
 * Commands (stdin lines): "stats", "corrupt_rx N" / "corrupt_tx N" (flip one bit in each of the next
 * N frames towards the device / the host, as line noise would), "quit". EOF on stdin quits too.
 * Built with the system cc against libsimavr by devices/emulators/firmware.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_cycle_timers.h"
#include "sim_elf.h"
#include "sim_irq.h"

/* ATmega328P data-space addresses (datasheet, register summary) */
#define UCSR0A_ADDR 0xC0
#define UCSR0B_ADDR 0xC1
#define UBRR0L_ADDR 0xC4
#define UBRR0H_ADDR 0xC5
#define U2X0_BIT 1
#define RXEN0_BIT 4
#define ENABLE_PORT 'B'
#define ENABLE_PIN 5
#define BITS_PER_BYTE 10 /* 8N1: start, 8 data, stop */
#define LAG_REANCHOR_NS 1000000LL /* catch up at most 1 ms faster than real time */
#define BAUD_TOLERANCE 0.05
#define QSIZE 65536 /* byte queues, power of two */

typedef struct {
    uint8_t b[QSIZE];
    uint64_t due[QSIZE]; /* cycle at which the byte's stop bit ends (tx only) */
    uint32_t head, tail;
} queue;

static avr_t *avr;
static avr_uart_t *uart0;
static int master_fd = -1, slave_fd = -1;
static FILE *out;
static uint64_t slice_cycles;
static int64_t lead_ns = 200000;
static struct timespec t0;
static int64_t anchor_ns; /* wall ns at simulated time 0 */
static queue txq, rxq;    /* device -> host, host -> device */
static uint64_t wire_free_tx; /* cycle when the tx line is free again */
static int pump_active, running = 1;
static uint64_t byte_cycles, device_baud;
static uint64_t rx_bytes, tx_bytes, tx_dropped, mismatch_bytes, slips;
static int64_t slipped_ns;
static int64_t lag_max_ns;
static uint64_t last_rx_frame_cycle; /* the chip received the last host frame's delimiter */
static int enable_level = -1;
static int corrupt_rx, corrupt_tx, rx_pos, tx_pos; /* pending corruptions, byte index within frame */
static int baud_match = 1, host_baud;
static char cmdbuf[256];
static size_t cmdlen;

static int64_t wall_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)(t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec);
}

static double cycles_us(uint64_t c) { return (double)c * 1e6 / avr->frequency; }
static int64_t sim_ns(void) { return (int64_t)((double)avr->cycle * 1e9 / avr->frequency); }
static uint32_t qlen(const queue *q) { return q->head - q->tail; }

/* simavr 1.6 times the USART with 11 bits per byte (a parity bit that 8N1 does not have),
 * rounded to whole microseconds (93 us instead of 85 us at 117647 bit/s): the firmware could send
 * no faster. The harness sets the exact 10-bit byte time in the USART model (public avr_uart.h). */
static avr_uart_t *find_uart0(void) {
    for (avr_io_t *io = avr->io_port; io; io = io->next)
        if (io->kind && !strcmp(io->kind, "uart") && ((avr_uart_t *)io)->name == '0') return (avr_uart_t *)io;
    return NULL;
}

/* The line rate the firmware programmed: f / (8 (UBRR + 1)) with U2X0, f / (16 (UBRR + 1)) without. */
static void update_baud(void) {
    if (!(avr->data[UCSR0B_ADDR] & (1 << RXEN0_BIT))) return; /* the firmware has set the USART up */
    uint32_t ubrr = avr->data[UBRR0L_ADDR] | ((uint32_t)(avr->data[UBRR0H_ADDR] & 0x0F) << 8);
    uint32_t div = (avr->data[UCSR0A_ADDR] & (1 << U2X0_BIT)) ? 8 : 16;
    uint64_t cyc = (uint64_t)BITS_PER_BYTE * div * (ubrr + 1);
    if (uart0 && uart0->cycles_per_byte != cyc) uart0->cycles_per_byte = cyc; /* see find_uart0 */
    if (cyc != byte_cycles) {
        byte_cycles = cyc;
        device_baud = avr->frequency / (div * (ubrr + 1));
        fprintf(out, "uart baud=%llu byte_us=%.3f\n", (unsigned long long)device_baud, cycles_us(cyc));
    }
}

static int speed_bps(speed_t s) {
    static const struct { speed_t k; int bps; } table[] = {
        {B1200, 1200}, {B2400, 2400}, {B4800, 4800}, {B9600, 9600}, {B19200, 19200}, {B38400, 38400},
        {B57600, 57600}, {B115200, 115200}, {B230400, 230400}, {B460800, 460800}, {B500000, 500000},
        {B576000, 576000}, {B921600, 921600}, {B1000000, 1000000}, {B1152000, 1152000},
        {B1500000, 1500000}, {B2000000, 2000000}, {B2500000, 2500000}, {B3000000, 3000000},
        {B3500000, 3500000}, {B4000000, 4000000}};
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (table[k].k == s) return table[k].bps;
    return 0; /* B0 or a custom rate (BOTHER): not checked */
}

static void check_line_speed(void) {
    struct termios tio;
    if (!device_baud || tcgetattr(slave_fd, &tio) != 0) return;
    int host = speed_bps(cfgetospeed(&tio));
    double err = host ? (double)host / (double)device_baud - 1.0 : 0.0;
    int match = host == 0 || (err < BAUD_TOLERANCE && err > -BAUD_TOLERANCE);
    if (match != baud_match || host != host_baud) {
        baud_match = match;
        host_baud = host;
        fprintf(out, "baud_match %d host=%d device=%llu\n", match, host, (unsigned long long)device_baud);
    }
}

/* line noise on request: flip one bit in the third byte of a frame, never making a 0x00 */
static uint8_t noise(uint8_t b, int *pos, int *pending) {
    if (*pending > 0 && *pos == 2 && b != 0) {
        uint8_t f = (uint8_t)(b ^ 0x10);
        b = f ? f : (uint8_t)(b ^ 0x01);
        (*pending)--;
    }
    *pos = b == 0 ? 0 : *pos + 1;
    return b;
}

/* --- device -> host ------------------------------------------------------------------------ */
static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    update_baud();
    uint8_t b = noise((uint8_t)value, &tx_pos, &corrupt_tx);
    uint64_t start = avr->cycle > wire_free_tx ? avr->cycle : wire_free_tx;
    wire_free_tx = start + byte_cycles;
    if (qlen(&txq) == QSIZE) {
        tx_dropped++;
        return;
    }
    txq.b[txq.head & (QSIZE - 1)] = b;
    txq.due[txq.head & (QSIZE - 1)] = wire_free_tx;
    txq.head++;
}

static uint64_t wall_cycle(void) {
    int64_t w = wall_ns() - anchor_ns;
    return w > 0 ? (uint64_t)((double)w * 1e-9 * avr->frequency) : 0;
}

/* Release the device bytes whose stop bit has ended on the wall clock. */
static void flush_tx(void) {
    uint8_t buf[4096];
    size_t n = 0;
    uint64_t now = wall_cycle();
    while (qlen(&txq) && txq.due[txq.tail & (QSIZE - 1)] <= now && n < sizeof buf) {
        buf[n++] = txq.b[txq.tail & (QSIZE - 1)];
        txq.tail++;
    }
    if (!n) return;
    tx_bytes += n;
    if (!baud_match) {
        mismatch_bytes += n;
        return;
    }
    ssize_t w = write(master_fd, buf, n);
    if (w < (ssize_t)n) tx_dropped += n - (w > 0 ? (size_t)w : 0); /* nobody reading: a real line drops them */
}

/* --- host -> device: one byte into the receiver per byte time --------------------------------- */
static avr_cycle_count_t rx_pump(avr_t *a, avr_cycle_count_t when, void *param) {
    (void)a;
    (void)param;
    if (!qlen(&rxq)) {
        pump_active = 0;
        return 0;
    }
    uint8_t b = noise(rxq.b[rxq.tail & (QSIZE - 1)], &rx_pos, &corrupt_rx);
    rxq.tail++;
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT), b);
    if (b == 0) last_rx_frame_cycle = avr->cycle + byte_cycles;
    return when + (byte_cycles ? byte_cycles : 1);
}

static void read_host(void) {
    uint8_t buf[4096];
    check_line_speed(); /* the host may have just opened the port and set its speed */
    for (;;) {
        ssize_t r = read(master_fd, buf, sizeof buf);
        if (r <= 0) return;
        rx_bytes += (uint64_t)r;
        if (!baud_match || !byte_cycles) { /* wrong line speed, or the USART is not set up yet */
            mismatch_bytes += (uint64_t)r;
            continue;
        }
        for (ssize_t k = 0; k < r && qlen(&rxq) < QSIZE; k++) rxq.b[rxq.head++ & (QSIZE - 1)] = buf[k];
        if (!pump_active) {
            pump_active = 1;
            avr_cycle_timer_register(avr, 1, rx_pump, NULL);
        }
    }
}

/* --- enable line ------------------------------------------------------------------------------ */
static void on_enable_pin(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    int level = value ? 1 : 0;
    if (level == enable_level) return;
    enable_level = level;
    double since = last_rx_frame_cycle ? cycles_us(avr->cycle - last_rx_frame_cycle) : -1.0;
    fprintf(out, "enable %d sim_us=%.1f since_rx_us=%.1f\n", level, cycles_us(avr->cycle), since);
}

/* --- commands --------------------------------------------------------------------------------- */
static void command(const char *line) {
    int n;
    if (strcmp(line, "stats") == 0) {
        fprintf(out, "stats sim_us=%.1f wall_us=%.1f lag_max_us=%.1f slips=%llu slipped_us=%.1f rx_bytes=%llu tx_bytes=%llu "
                     "tx_dropped=%llu mismatch_bytes=%llu baud=%llu byte_us=%.3f enable=%d host_baud=%d\n",
                cycles_us(avr->cycle), wall_ns() * 1e-3 - anchor_ns * 1e-3, lag_max_ns * 1e-3,
                (unsigned long long)slips, slipped_ns * 1e-3, (unsigned long long)rx_bytes, (unsigned long long)tx_bytes,
                (unsigned long long)tx_dropped, (unsigned long long)mismatch_bytes,
                (unsigned long long)device_baud, byte_cycles ? cycles_us(byte_cycles) : 0.0, enable_level,
                host_baud);
    } else if (sscanf(line, "corrupt_rx %d", &n) == 1) {
        corrupt_rx += n;
        fprintf(out, "ok\n");
    } else if (sscanf(line, "corrupt_tx %d", &n) == 1) {
        corrupt_tx += n;
        fprintf(out, "ok\n");
    } else if (strcmp(line, "quit") == 0) {
        running = 0;
    } else {
        fprintf(out, "error unknown command '%s'\n", line);
    }
}

static void read_commands(void) {
    char buf[256];
    ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
    if (r == 0) running = 0; /* the parent closed our stdin: it is gone */
    for (ssize_t k = 0; k < r; k++) {
        if (buf[k] == '\n') {
            cmdbuf[cmdlen] = 0;
            command(cmdbuf);
            cmdlen = 0;
        } else if (cmdlen < sizeof cmdbuf - 1) {
            cmdbuf[cmdlen++] = buf[k];
        }
    }
}

/* --- real time: every slice, move bytes; when ahead by more than the lead, wait for the wall --- */
static int wait_io(int64_t timeout_ns) {
    struct pollfd fds[2] = {{master_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    struct timespec ts = {timeout_ns / 1000000000LL, timeout_ns % 1000000000LL};
    int r = ppoll(fds, 2, &ts, NULL);
    if (r > 0) {
        if (fds[0].revents & POLLIN) read_host();
        if (fds[1].revents & (POLLIN | POLLHUP)) read_commands();
    }
    return r;
}

static avr_cycle_count_t realtime(avr_t *a, avr_cycle_count_t when, void *param) {
    (void)a;
    (void)param;
    update_baud();
    int64_t ahead = sim_ns() - (wall_ns() - anchor_ns);
    if (-ahead > lag_max_ns) lag_max_ns = -ahead;
    if (-ahead > LAG_REANCHOR_NS) { /* too far behind to catch up honestly: re-anchor */
        anchor_ns += -ahead;
        slipped_ns += -ahead;
        slips++;
    }
    flush_tx();
    if (ahead <= lead_ns) {
        wait_io(0);
    } else {
        while (running && ahead > 0) { /* sleep until the wall clock catches up, waking for bytes */
            int64_t t = ahead;
            if (qlen(&txq)) {
                int64_t due = (int64_t)((double)txq.due[txq.tail & (QSIZE - 1)] * 1e9 / avr->frequency);
                int64_t until = due - (wall_ns() - anchor_ns);
                if (until < t) t = until > 0 ? until : 0;
            }
            wait_io(t);
            flush_tx();
            ahead = sim_ns() - (wall_ns() - anchor_ns);
        }
    }
    static uint64_t next_check;
    if (avr->cycle >= next_check) { /* the host's line speed, every 10 ms */
        check_line_speed();
        next_check = avr->cycle + avr->frequency / 100;
    }
    fflush(out);
    return when + slice_cycles;
}

static void no_sleep(avr_t *a, avr_cycle_count_t howlong) {
    (void)a;
    (void)howlong; /* simavr would usleep here; realtime() paces instead */
}

static void stop(int sig) {
    (void)sig;
    running = 0;
}

int main(int argc, char **argv) {
    const char *elf = NULL, *mcu = "atmega328p";
    unsigned long freq = 16000000UL;
    double slice_us = 25.0, lead_us = 200.0;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--mcu") && k + 1 < argc) mcu = argv[++k];
        else if (!strcmp(argv[k], "--freq") && k + 1 < argc) freq = strtoul(argv[++k], NULL, 10);
        else if (!strcmp(argv[k], "--lead-us") && k + 1 < argc) lead_us = atof(argv[++k]);
        else if (!strcmp(argv[k], "--slice-us") && k + 1 < argc) slice_us = atof(argv[++k]);
        else elf = argv[k];
    }
    if (!elf) {
        fprintf(stderr, "usage: %s FIRMWARE.elf [--mcu atmega328p] [--freq 16000000] [--lead-us 200]\n", argv[0]);
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the process that started us */
    prctl(PR_SET_TIMERSLACK, 1000UL);
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    signal(SIGPIPE, SIG_IGN);
    int proto = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO); /* simavr prints to stdout: keep it off our protocol */
    out = fdopen(proto, "w");

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw) != 0) {
        fprintf(stderr, "%s: cannot read the firmware ELF\n", elf);
        return 1;
    }
    if (!fw.frequency) fw.frequency = (uint32_t)freq;
    if (!fw.mmcu[0]) snprintf(fw.mmcu, sizeof fw.mmcu, "%s", mcu);
    avr = avr_make_mcu_by_name(fw.mmcu);
    if (!avr) {
        fprintf(stderr, "%s: simavr does not know this MCU\n", fw.mmcu);
        return 1;
    }
    avr_init(avr);
    avr_load_firmware(avr, &fw);
    avr->log = LOG_ERROR;
    avr->sleep = no_sleep;
    uart0 = find_uart0();
    uint32_t flags = 0; /* no stdio echo, no polling usleep */
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(ENABLE_PORT), ENABLE_PIN), on_enable_pin, NULL);

    char name[128];
    if (openpty(&master_fd, &slave_fd, name, NULL, NULL) != 0) {
        perror("openpty");
        return 1;
    }
    struct termios tio;
    tcgetattr(slave_fd, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave_fd, TCSANOW, &tio);
    fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK);
    fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
    fprintf(out, "pty %s\n", name);
    fflush(out);

    lead_ns = (int64_t)(lead_us * 1e3);
    slice_cycles = (uint64_t)(slice_us * 1e-6 * avr->frequency);
    if (slice_cycles < 1) slice_cycles = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    avr_cycle_timer_register(avr, slice_cycles, realtime, NULL);
    int state = cpu_Running;
    while (running) {
        state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) break;
    }
    fprintf(out, "exit %s sim_us=%.1f\n", state == cpu_Crashed ? "crashed" : (state == cpu_Done ? "done" : "stopped"),
            cycles_us(avr->cycle));
    fflush(out);
    return state == cpu_Crashed ? 1 : 0;
}
