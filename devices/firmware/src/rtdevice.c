/* Device side of the rtcore framed protocol (see rtdevice.h). */
#include "rtdevice.h"

static void put_i32(uint8_t *b, int32_t v) {
    uint32_t u = (uint32_t)v;
    b[0] = (uint8_t)u; b[1] = (uint8_t)(u >> 8); b[2] = (uint8_t)(u >> 16); b[3] = (uint8_t)(u >> 24);
}

static int32_t get_i32(const uint8_t *b) {
    return (int32_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
}

static void send(rtdevice *d, uint8_t type, const uint8_t *payload, size_t n) {
    d->tx_body[0] = type;
    d->tx_body[1] = d->seq++;
    for (size_t k = 0; k < n; k++) d->tx_body[2 + k] = payload[k];
    size_t m = rtframe_encode(d->tx_body, 2 + n, d->tx_wire);
    d->write(d->tx_wire, m, d->write_ctx);
}

static void send_fault(rtdevice *d, uint8_t code) { send(d, MSG_FAULT, &code, 1); }

static void send_state(rtdevice *d, uint8_t ack_seq) {
    uint8_t p[3 + 12 * RTDEVICE_MAX_JOINTS];
    p[0] = d->flags;
    p[1] = ack_seq;
    p[2] = d->n_joints;
    for (uint8_t j = 0; j < d->n_joints; j++) {
        put_i32(p + 3 + 12 * j, d->q[j]);
        put_i32(p + 7 + 12 * j, d->qd[j]);
        put_i32(p + 11 + 12 * j, d->tau[j]);
    }
    send(d, MSG_STATE, p, 3 + 12 * (size_t)d->n_joints);
}

static void disable(rtdevice *d) {
    d->enabled = 0;
    d->flags &= (uint8_t)~FLAG_ENABLED;
}

void rtdevice_init(rtdevice *d, uint8_t n_joints, uint16_t watchdog_ms, rtdevice_write_fn write, void *ctx) {
    d->n_joints = n_joints > RTDEVICE_MAX_JOINTS ? RTDEVICE_MAX_JOINTS : n_joints;
    d->watchdog_ms = watchdog_ms;
    d->enabled = d->flags = d->armed = d->seq = 0;
    d->mode = MODE_POSITION;
    d->last_host_ms = 0;
    d->rx_frames = d->watchdog_trips = d->limit_clips = 0;
    for (int j = 0; j < RTDEVICE_MAX_JOINTS; j++) {
        d->goal[j] = d->q[j] = d->qd[j] = d->tau[j] = 0;
        rtdevice_set_limits(d, (uint8_t)j, INT32_MIN, INT32_MAX, INT32_MAX);
    }
    rtframe_parser_init(&d->parser);
    d->write = write;
    d->write_ctx = ctx;
}

void rtdevice_set_limits(rtdevice *d, uint8_t j, int32_t q_min_urad, int32_t q_max_urad, int32_t tau_max_unm) {
    if (j >= RTDEVICE_MAX_JOINTS) return;
    d->q_min[j] = q_min_urad;
    d->q_max[j] = q_max_urad;
    d->tau_max[j] = tau_max_unm;
}

static int32_t clip(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

int32_t rtdevice_drive(const rtdevice *d, uint8_t j) {
    if (!d->enabled) return 0;
    int32_t u = d->goal[j];
    if (d->mode == MODE_TORQUE && ((d->q[j] >= d->q_max[j] && u > 0) || (d->q[j] <= d->q_min[j] && u < 0)))
        return 0; /* a wall: no torque further past the limit */
    return u;
}

static void send_stats(rtdevice *d) {
    uint8_t p[16];
    put_i32(p, (int32_t)d->rx_frames);
    put_i32(p + 4, (int32_t)d->parser.corrupt);
    put_i32(p + 8, (int32_t)d->watchdog_trips);
    put_i32(p + 12, (int32_t)d->limit_clips);
    send(d, MSG_STATS_REPLY, p, sizeof p);
}

static void on_command(rtdevice *d, const uint8_t *p, int n, uint8_t seq) {
    if (n < 2 || p[1] != d->n_joints || n != 2 + 4 * d->n_joints || (p[0] != MODE_TORQUE && p[0] != MODE_POSITION)) {
        disable(d);
        d->flags |= FLAG_FAULT;
        send_fault(d, FAULT_BAD_COMMAND);
        send_state(d, seq);
        return;
    }
    d->armed = 1;
    if (d->enabled) {
        uint8_t clipped = 0;
        d->mode = p[0];
        for (uint8_t j = 0; j < d->n_joints; j++) {
            int32_t u = get_i32(p + 2 + 4 * j);
            d->goal[j] = d->mode == MODE_POSITION ? clip(u, d->q_min[j], d->q_max[j]) : clip(u, -d->tau_max[j], d->tau_max[j]);
            clipped |= d->goal[j] != u;
        }
        if (clipped) {
            d->flags |= FLAG_LIMIT;
            d->limit_clips++;
        }
    }
    send_state(d, seq);
}

void rtdevice_feed(rtdevice *d, uint8_t b, uint32_t now_ms) {
    int k = rtframe_parser_feed(&d->parser, b);
    if (k <= 0) return; /* need more, or a corrupt frame (counted in parser.corrupt) */
    uint8_t type = d->parser.body[0], seq = d->parser.body[1];
    const uint8_t *p = d->parser.body + 2;
    int n = k - 2;
    d->last_host_ms = now_ms;
    d->rx_frames++;
    switch (type) {
    case MSG_HELLO:
        if (n >= 1 && p[0] == RTDEVICE_PROTOCOL_VERSION) {
            uint8_t ack[4] = {RTDEVICE_PROTOCOL_VERSION, d->n_joints, (uint8_t)d->watchdog_ms, (uint8_t)(d->watchdog_ms >> 8)};
            send(d, MSG_HELLO_ACK, ack, 4);
        } else {
            send_fault(d, FAULT_BAD_VERSION);
        }
        break;
    case MSG_ENABLE:
        d->enabled = 1;
        d->armed = 0; /* the watchdog arms at the first COMMAND */
        d->flags = FLAG_ENABLED;
        for (uint8_t j = 0; j < d->n_joints; j++) d->goal[j] = d->mode == MODE_POSITION ? d->q[j] : 0;
        send_state(d, seq);
        break;
    case MSG_DISABLE:
        disable(d);
        send_state(d, seq);
        break;
    case MSG_COMMAND:
        on_command(d, p, n, seq);
        break;
    case MSG_HEARTBEAT:
        send_state(d, seq);
        break;
    case MSG_STATS:
        send_stats(d);
        break;
    default:
        break;
    }
}

void rtdevice_tick(rtdevice *d, uint32_t now_ms) {
    if (d->enabled && d->armed && (uint32_t)(now_ms - d->last_host_ms) > d->watchdog_ms) {
        disable(d);
        d->flags |= FLAG_WATCHDOG;
        d->watchdog_trips++;
        send_fault(d, FAULT_WATCHDOG);
    }
}
