/* A simulated joint for the hardware-in-the-loop build: the same dynamics as the host's emulator
 * (devices/emulators/joint_model.py), in single-precision C for an 8-bit MCU without an FPU.
 *
 *   position mode: dq/dt = clip((goal - q) / tau_s, -v_max, v_max)   (first-order servo)
 *   torque mode:   I d2q/dt2 = tau - b dq/dt                          (semi-implicit Euler)
 *   disabled:      dq/dt = 0, tau = 0 (the gearbox holds the joint)
 * In position mode the reported torque is what the servo needs: tau = I d2q/dt2 + b dq/dt.
 * Portable C99, no allocation; the firmware fills rtdevice's q/qd/tau (urad, urad/s, uNm) from it.
 */
#ifndef RTJOINT_H
#define RTJOINT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float q_rad, qd_rad_s, tau_nm;
    float tau_s;          /* position servo time constant, s */
    float inertia_kgm2;   /* I */
    float damping_nms;    /* b, Nm s/rad */
    float v_max_rad_s;    /* servo speed limit, rad/s */
} rtjoint;

void rtjoint_init(rtjoint *j, float tau_s, float inertia_kgm2, float damping_nms, float v_max_rad_s);
/* Advance by dt_s. goal_micro: urad (position_mode) or uNm (torque mode). */
void rtjoint_step(rtjoint *j, float dt_s, uint8_t enabled, uint8_t position_mode, int32_t goal_micro);

#ifdef __cplusplus
}
#endif
#endif
