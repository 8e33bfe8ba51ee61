// A last line of defence around libhdf5 for the command-line tool.
//
// libhdf5 1.10 is not hardened against damaged files: the fuzzer (tools/fuzz) found inputs on
// which it dereferences wild pointers or loops forever. The tool records, before each libhdf5
// call, which file and object it is about to read (the "breadcrumb"). If the process then takes
// a fatal signal, the handler writes one line naming that file and object and exits with code 2;
// a watchdog thread does the same when one libhdf5 call runs longer than a limit.
//
// Everything here uses static storage in static inline functions, so it must be called from one
// Swift source file only (Library.swift): each object file would otherwise get its own copy.
#ifndef WEIGHTDRIFT_GUARD_H
#define WEIGHTDRIFT_GUARD_H

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WD_CRUMB_SIZE = 2048 };

static inline char *wd_crumb(void) {
    static char crumb[WD_CRUMB_SIZE] = "an HDF5 file";
    return crumb;
}

// Monotonic milliseconds at which the current libhdf5 call started; 0 when none is running.
static inline _Atomic long long *wd_call_started(void) {
    static _Atomic long long started = 0;
    return &started;
}

static inline long long wd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Whether any crumb was recorded (no file was read before a crash otherwise).
static inline int *wd_crumb_set(void) {
    static int set = 0;
    return &set;
}

// Records what is about to be read: "FILE: OBJECT".
static inline void wd_set_crumb(const char *file, const char *object) {
    *wd_crumb_set() = 1;
    char *crumb = wd_crumb();
    size_t n = 0;
    for (const char *p = file; p && *p && n < WD_CRUMB_SIZE - 1; p++) crumb[n++] = (*p == '\n') ? ' ' : *p;
    if (object && *object && n < WD_CRUMB_SIZE - 3) {
        crumb[n++] = ':';
        crumb[n++] = ' ';
        for (const char *p = object; *p && n < WD_CRUMB_SIZE - 1; p++) crumb[n++] = (*p == '\n') ? ' ' : *p;
    }
    crumb[n] = 0;
}

static inline void wd_call_begin(void) { atomic_store(wd_call_started(), wd_now_ms()); }
static inline void wd_call_end(void) { atomic_store(wd_call_started(), 0); }

// Where the tool's own stderr lines go (the command-line tool points fd 2 at /dev/null and keeps
// a duplicate, so glibc's heap-corruption message cannot add a line before ours).
static inline int *wd_report_fd(void) {
    static int fd = 2;
    return &fd;
}
static inline void wd_set_report_fd(int fd) { *wd_report_fd() = fd; }

// Writes "weightdrift: error: <crumb>: <why>\n" with write(2) only, then _exit(2).
static inline void wd_die(const char *why) {
    static const char prefix[] = "weightdrift: error: ";
    int fd = *wd_report_fd();
    ssize_t ignored = write(fd, prefix, sizeof prefix - 1);
    const char *crumb = wd_crumb();
    ignored = write(fd, crumb, strnlen(crumb, WD_CRUMB_SIZE));
    ignored = write(fd, ": ", 2);
    ignored = write(fd, why, strlen(why));
    ignored = write(fd, "\n", 1);
    (void)ignored;
    _exit(2);
}

// Blames libhdf5 only when a libhdf5 call is running (the clock runs around every locked
// section). A crash elsewhere is not libhdf5's: it says so, naming the last file and object read
// when there was one (memory damaged by libhdf5 earlier cannot be ruled out), or none at all.
static inline void wd_fatal_signal(int sig) {
    // One report: a second thread that faults meanwhile (libhdf5 damaged memory both use) waits
    // here for the first one's _exit instead of dying by the signal.
    static atomic_int reporting = 0;
    if (atomic_exchange(&reporting, 1) != 0) {
        for (;;) pause();
    }
    if (atomic_load(wd_call_started()) != 0) {
        wd_die("libhdf5 crashed reading this (the file is damaged or not what it claims to be)");
    }
    char why[160] = "weightdrift crashed outside libhdf5 (signal ";
    size_t n = strlen(why);
    if (sig >= 10) why[n++] = (char)('0' + (sig / 10) % 10);
    why[n++] = (char)('0' + sig % 10);
    why[n] = 0;
    if (*wd_crumb_set()) {
        strcat(why, ") after reading this: an internal error, or memory libhdf5 damaged earlier");
        wd_die(why);
    }
    static const char prefix[] = "weightdrift: error: internal error: ";
    int fd = *wd_report_fd();
    ssize_t ignored = write(fd, prefix, sizeof prefix - 1);
    ignored = write(fd, why, strlen(why));
    ignored = write(fd, ")\n", 2);
    (void)ignored;
    _exit(2);
}

// Installs the handlers on an alternate stack (a stack overflow must be caught too).
static inline int wd_install_crash_guard(void) {
    static char *alternate = 0;
    if (!alternate) {
        alternate = (char *)malloc(1 << 16);
        if (!alternate) return -1;
        stack_t ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_sp = alternate;
        ss.ss_size = 1 << 16;
        if (sigaltstack(&ss, 0) != 0) return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wd_fatal_signal;
    // Not SA_RESETHAND: with it, a second thread's fault while the first one reports would kill
    // the process by the signal (the handler is entered once; see wd_fatal_signal).
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &sa, 0) != 0) return -1;
    }
    return 0;
}

// One check of the watchdog: true when the current call has run longer than `limit_ms`.
static inline int wd_call_stalled(long long limit_ms) {
    long long started = atomic_load(wd_call_started());
    return started != 0 && wd_now_ms() - started > limit_ms;
}

#endif
