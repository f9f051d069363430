/* Simulated joint (see rtjoint.h). */
#include "rtjoint.h"

void rtjoint_init(rtjoint *j, float tau_s, float inertia_kgm2, float damping_nms, float v_max_rad_s) {
    j->q_rad = j->qd_rad_s = j->tau_nm = 0.0f;
    j->tau_s = tau_s;
    j->inertia_kgm2 = inertia_kgm2;
    j->damping_nms = damping_nms;
    j->v_max_rad_s = v_max_rad_s;
}

void rtjoint_step(rtjoint *j, float dt_s, uint8_t enabled, uint8_t position_mode, int32_t goal_micro) {
    if (dt_s <= 0.0f) return;
    if (!enabled) {
        j->qd_rad_s = 0.0f;
        j->tau_nm = 0.0f;
        return;
    }
    float goal = (float)goal_micro * 1e-6f;
    if (position_mode) {
        float err = goal - j->q_rad;
        float qd = err / (j->tau_s > dt_s ? j->tau_s : dt_s);
        if (qd > j->v_max_rad_s) qd = j->v_max_rad_s;
        if (qd < -j->v_max_rad_s) qd = -j->v_max_rad_s;
        float step = qd * dt_s;
        if ((err >= 0.0f ? err : -err) < (step >= 0.0f ? step : -step)) qd = err / dt_s; /* no overshoot */
        j->tau_nm = j->inertia_kgm2 * (qd - j->qd_rad_s) / dt_s + j->damping_nms * qd;
        j->qd_rad_s = qd;
        j->q_rad += qd * dt_s;
        return;
    }
    j->tau_nm = goal;
    j->qd_rad_s += dt_s * (goal - j->damping_nms * j->qd_rad_s) / j->inertia_kgm2;
    j->q_rad += dt_s * j->qd_rad_s;
}
