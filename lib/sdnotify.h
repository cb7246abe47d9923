/*
 * sdnotify.h - readiness and status for a service manager: systemd's
 * notification protocol (sd_notify(3), Type=notify units).  The manager
 * puts a datagram socket's address in NOTIFY_SOCKET: an absolute path, or
 * "@name" for a socket in the abstract namespace.  A message is one or
 * more "KEY=VALUE" lines: READY=1 once the program serves, STATUS=text
 * for `systemctl status`, STOPPING=1 when it begins to stop, WATCHDOG=1 as
 * a keep-alive when WatchdogSec= is set (WATCHDOG_USEC).
 *
 * Written here rather than linking libsystemd: the protocol is one
 * sendmsg on a datagram socket, and the programs (and the image built
 * FROM scratch) keep no dependency on libsystemd and what it links.
 *
 * Nothing here keeps state, prints or exits: every call reads the
 * environment and opens a socket for that one message.
 */
#ifndef JS_SDNOTIFY_H
#define JS_SDNOTIFY_H

#include <stdint.h>

/* Sends state to the socket named in NOTIFY_SOCKET.  Returns 1 when it
 * was sent, 0 when NOTIFY_SOCKET is unset or empty (no manager waits for
 * it: nothing to do), -1 with errno on failure: EINVAL for an address that
 * is neither an absolute path nor "@name", ENAMETOOLONG for one too long
 * for a Unix socket, EMSGSIZE for a message cut short, else socket(2)'s or
 * sendmsg(2)'s (ECONNREFUSED, ENOENT: nobody listens there). */
int js_sd_notify(const char *state);
/* The same, the message formatted as by printf (at most 4095 bytes, else
 * -1 with EMSGSIZE and nothing sent). */
int js_sd_notifyf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The same to the address addr, spelt as in NOTIFY_SOCKET; addr NULL or
 * "" returns 0. */
int js_sd_notify_to(const char *addr, const char *state);
/* The watchdog interval the manager asked for, in microseconds: the value
 * of WATCHDOG_USEC when it is a positive number and WATCHDOG_PID is unset
 * or this process's pid; else 0 (no watchdog).  The program sends
 * WATCHDOG=1 at half that interval or more often. */
uint64_t js_sd_watchdog_usec(void);

#endif
