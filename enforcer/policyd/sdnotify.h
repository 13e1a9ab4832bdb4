/* sdnotify.h — the systemd notify protocol without libsystemd: one datagram of newline-separated
 * KEY=VALUE lines to $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). */
#ifndef NETPOL_ENFORCER_SDNOTIFY_H
#define NETPOL_ENFORCER_SDNOTIFY_H

/* Sends text ("READY=1\nSTATUS=..."). 0 when sent or when NOTIFY_SOCKET is unset, else
 * -errno. */
int sdnotify_send(const char *text);

/* The watchdog period asked for ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or ours), in
 * microseconds; 0 when none. */
unsigned long long sdnotify_watchdog_usec(void);

#endif
