/* rtcore framed protocol: COBS framing + CRC-16/CCITT-FALSE (see rtframe.h). */
#include "rtframe.h"

#ifdef RTFRAME_CRC_NO_TABLE
/* bitwise: no 512-byte table in RAM, for 8-bit boards (about 8 shifts per byte) */
uint16_t rtframe_crc16(const uint8_t *buf, size_t n) {
    uint16_t c = 0xFFFF;
    for (size_t k = 0; k < n; k++) {
        c ^= (uint16_t)buf[k] << 8;
        for (uint8_t b = 0; b < 8; b++) c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
    }
    return c;
}
#else
static uint16_t crc_table[256];
static int crc_ready = 0;

static void crc_init(void) {
    for (int b = 0; b < 256; b++) {
        uint16_t c = (uint16_t)(b << 8);
        for (int k = 0; k < 8; k++) c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc_table[b] = c;
    }
    crc_ready = 1;
}

uint16_t rtframe_crc16(const uint8_t *buf, size_t n) {
    if (!crc_ready) crc_init();
    uint16_t c = 0xFFFF;
    for (size_t k = 0; k < n; k++) c = (uint16_t)((c << 8) ^ crc_table[((c >> 8) ^ buf[k]) & 0xFF]);
    return c;
}
#endif

size_t rtframe_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst) {
    size_t code_at = 0, out = 1;
    uint8_t code = 1;
    for (size_t k = 0; k < n; k++) {
        if (src[k] == 0) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[k];
            if (++code == 0xFF) {
                dst[code_at] = code;
                if (k == n - 1) return out; /* a full block ends the data: no trailing code */
                code_at = out++;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    return out;
}

int rtframe_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_size) {
    size_t k = 0, out = 0;
    while (k < n) {
        uint8_t code = src[k];
        if (code == 0 || k + code > n) return -1;
        k++;
        for (uint8_t j = 1; j < code; j++) {
            if (src[k] == 0 || out >= dst_size) return -1;
            dst[out++] = src[k++];
        }
        if (code != 0xFF && k < n) {
            if (out >= dst_size) return -1;
            dst[out++] = 0;
        }
    }
    return (int)out;
}

size_t rtframe_encode(uint8_t *body, size_t n_body, uint8_t *wire) {
    uint16_t c = rtframe_crc16(body, n_body);
    body[n_body] = (uint8_t)(c & 0xFF);
    body[n_body + 1] = (uint8_t)(c >> 8);
    size_t m = rtframe_cobs_encode(body, n_body + 2, wire);
    wire[m] = 0;
    return m + 1;
}

void rtframe_parser_init(rtframe_parser *p) {
    p->len = 0;
    p->corrupt = 0;
}

int rtframe_parser_feed(rtframe_parser *p, uint8_t b) {
    if (b != 0) {
        if (p->len < sizeof(p->acc)) p->acc[p->len] = b;
        if (p->len <= sizeof(p->acc)) p->len++;
        return RTFRAME_NEED_MORE;
    }
    size_t m = p->len;
    p->len = 0;
    if (m == 0) return RTFRAME_NEED_MORE;
    int k = (m > sizeof(p->acc)) ? -1 : rtframe_cobs_decode(p->acc, m, p->body, sizeof(p->body));
    if (k < 4) {
        p->corrupt++;
        return RTFRAME_CORRUPT;
    }
    uint16_t c = rtframe_crc16(p->body, (size_t)k - 2);
    if (p->body[k - 2] != (c & 0xFF) || p->body[k - 1] != (c >> 8)) {
        p->corrupt++;
        return RTFRAME_CORRUPT;
    }
    return k - 2;
}
