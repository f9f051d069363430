/* rtcore framed protocol: COBS framing + CRC-16/CCITT-FALSE, portable C99 (no allocation).
 *
 * Same bytes as devices/protocols/framed.py (tests/test_firmware_framing.py checks both ways):
 *   wire = COBS(type | seq | payload | crc_lo | crc_hi) 0x00
 *   crc  = CRC-16/CCITT-FALSE(type | seq | payload): poly 0x1021, init 0xFFFF, no reflection,
 *          check value crc("123456789") = 0x29B1.
 */
#ifndef RTFRAME_H
#define RTFRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RTFRAME_MAX_PAYLOAD
#define RTFRAME_MAX_PAYLOAD 240 /* a small board may build with less: longer frames are dropped as corrupt */
#endif
#define RTFRAME_MAX_BODY (2 + RTFRAME_MAX_PAYLOAD + 2)
#define RTFRAME_MAX_WIRE (RTFRAME_MAX_BODY + RTFRAME_MAX_BODY / 254 + 2)

#define RTFRAME_NEED_MORE 0
#define RTFRAME_CORRUPT (-1)

uint16_t rtframe_crc16(const uint8_t *buf, size_t n);
size_t rtframe_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst);
/* returns the decoded length, or -1 for a malformed frame */
int rtframe_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_size);
/* body[0..n_body) = type, seq, payload; body needs n_body + 2 bytes. Returns the wire length. */
size_t rtframe_encode(uint8_t *body, size_t n_body, uint8_t *wire);

/* Stream decoder: feed one byte at a time; resyncs at the next 0x00 after bad bytes. */
typedef struct {
    uint8_t acc[RTFRAME_MAX_WIRE];
    size_t len; /* > sizeof(acc): skipping an overlong frame */
    uint8_t body[RTFRAME_MAX_BODY];
    uint32_t corrupt; /* frames dropped */
} rtframe_parser;

void rtframe_parser_init(rtframe_parser *p);
/* Returns the body length (type, seq, payload; in p->body) when b completes a valid frame,
 * RTFRAME_NEED_MORE, or RTFRAME_CORRUPT (frame dropped and counted). */
int rtframe_parser_feed(rtframe_parser *p, uint8_t b);

#ifdef __cplusplus
}
#endif
#endif
