/* Minimal stand-in for the Arduino core, so the host test can compile src/main.cpp. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct HostSerial {
    void begin(unsigned long) {}
    int available() { return 0; }
    int read() { return -1; }
    size_t write(const uint8_t *, size_t n) { return n; }
};
static HostSerial Serial;
static inline uint32_t millis() { return 0; }
