/* Host test harness for the firmware's protocol code (rtframe.c, rtdevice.c).
 *
 * Reads commands on stdin, one per line, hex without spaces; prints one result line each:
 *   crc HEX                  -> crc 4-hex-digits
 *   enc TYPE SEQ HEXPAYLOAD  -> wire HEX           (TYPE, SEQ decimal; "-" = empty payload)
 *   dec HEXSTREAM            -> frames: "ok TYPE SEQ HEX" or "corrupt", ";"-separated, then "end"
 *   init N WATCHDOG_MS       -> init               (a device with N joints)
 *   feed NOW_MS HEXSTREAM    -> out HEX            (the device's replies, concatenated)
 *   tick NOW_MS              -> out HEX enabled=E flags=F trips=T corrupt=C
 * Used by tests/test_firmware_framing.py.
 */
#include <stdio.h>
#include <string.h>

#include "../src/rtdevice.h"

static uint8_t buf[1 << 16];
static char line[1 << 17];
static uint8_t outbuf[1 << 16];
static size_t outlen;
static rtdevice dev;

static size_t unhex(const char *s, uint8_t *dst) {
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1]) {
        unsigned v;
        sscanf(s, "%2x", &v);
        dst[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void hex(const uint8_t *b, size_t n) {
    for (size_t k = 0; k < n; k++) printf("%02x", b[k]);
}

static void collect(const uint8_t *wire, size_t n, void *ctx) {
    (void)ctx;
    memcpy(outbuf + outlen, wire, n);
    outlen += n;
}

int main(void) {
    while (fgets(line, sizeof line, stdin)) {
        static char a[1 << 17];
        char cmd[16];
        a[0] = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%15s", cmd) != 1) continue;
        if (strcmp(cmd, "crc") == 0) {
            sscanf(line, "%*s %s", a);
            size_t n = unhex(a, buf);
            printf("crc %04x\n", rtframe_crc16(buf, n));
        } else if (strcmp(cmd, "enc") == 0) {
            unsigned type, seq;
            sscanf(line, "%*s %u %u %s", &type, &seq, a);
            uint8_t body[RTFRAME_MAX_BODY], wire[RTFRAME_MAX_WIRE];
            body[0] = (uint8_t)type;
            body[1] = (uint8_t)seq;
            size_t n = unhex(a, body + 2);
            size_t m = rtframe_encode(body, 2 + n, wire);
            printf("wire ");
            hex(wire, m);
            printf("\n");
        } else if (strcmp(cmd, "dec") == 0) {
            sscanf(line, "%*s %s", a);
            size_t n = unhex(a, buf);
            static rtframe_parser p;
            rtframe_parser_init(&p);
            for (size_t k = 0; k < n; k++) {
                int r = rtframe_parser_feed(&p, buf[k]);
                if (r == RTFRAME_CORRUPT) printf("corrupt;");
                if (r > 0) {
                    printf("ok %u %u ", p.body[0], p.body[1]);
                    if (r > 2) hex(p.body + 2, (size_t)r - 2); else printf("-");
                    printf(";");
                }
            }
            printf("end\n");
        } else if (strcmp(cmd, "init") == 0) {
            unsigned n, wd;
            sscanf(line, "%*s %u %u", &n, &wd);
            rtdevice_init(&dev, (uint8_t)n, (uint16_t)wd, collect, NULL);
            printf("init\n");
        } else if (strcmp(cmd, "feed") == 0) {
            unsigned long now;
            sscanf(line, "%*s %lu %s", &now, a);
            size_t n = unhex(a, buf);
            outlen = 0;
            for (size_t k = 0; k < n; k++) rtdevice_feed(&dev, buf[k], (uint32_t)now);
            printf("out ");
            if (outlen) hex(outbuf, outlen); else printf("-");
            printf("\n");
        } else if (strcmp(cmd, "tick") == 0) {
            unsigned long now;
            sscanf(line, "%*s %lu", &now);
            outlen = 0;
            rtdevice_tick(&dev, (uint32_t)now);
            printf("out ");
            if (outlen) hex(outbuf, outlen); else printf("-");
            printf(" enabled=%u flags=%u trips=%u corrupt=%u\n", dev.enabled, dev.flags,
                   (unsigned)dev.watchdog_trips, (unsigned)dev.parser.corrupt);
        } else {
            printf("unknown %s\n", cmd);
        }
        fflush(stdout);
    }
    return 0;
}
