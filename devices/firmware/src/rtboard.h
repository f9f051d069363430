/* Board options shared by the firmware builds (src/main.cpp for Arduino, avr/main.c for bare avr-libc):
 * defaults for what platformio.ini's build_flags or the Makefile's -D options usually set. */
#ifndef RTBOARD_H
#define RTBOARD_H

#ifndef RT_N_JOINTS
#define RT_N_JOINTS 2 /* joints the device reports */
#endif
#ifndef RT_WATCHDOG_MS
#define RT_WATCHDOG_MS 100 /* no valid host frame for this long: disable (zero torque) */
#endif
#ifndef RT_Q_MIN_URAD
#define RT_Q_MIN_URAD (-2500000L) /* device joint limits, urad: the last line of defence, whatever */
#endif
#ifndef RT_Q_MAX_URAD
#define RT_Q_MAX_URAD 2500000L /* the host's own limits are */
#endif
#ifndef RT_TAU_MAX_UNM
#define RT_TAU_MAX_UNM 2000000L /* device torque limit, uNm */
#endif

#endif
