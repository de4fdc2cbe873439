/* log: leveled, thread-safe log lines on stderr.
 *
 * Every line is "<UTC time> <LEVEL> <module>: <message>". The level is set
 * once at start-up (config `log.level` or GOMABARN_LOG_LEVEL); lines below
 * it cost one comparison. */
#ifndef GMB_LOG_H
#define GMB_LOG_H

#include <stdarg.h>

typedef enum {
    GMB_LOG_DEBUG = 0,
    GMB_LOG_INFO = 1,
    GMB_LOG_WARN = 2,
    GMB_LOG_ERROR = 3,
} gmb_log_level;

/* Sets the threshold (-1: info); GOMABARN_LOG_LEVEL, when set to a level
 * name, overrides it. */
void gmb_log_set_level(int level);
gmb_log_level gmb_log_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int gmb_log_parse_level(const char *name);

void gmb_log(gmb_log_level level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gmb_vlog(gmb_log_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define GMB_DEBUG(mod, ...) gmb_log(GMB_LOG_DEBUG, mod, __VA_ARGS__)
#define GMB_INFO(mod, ...) gmb_log(GMB_LOG_INFO, mod, __VA_ARGS__)
#define GMB_WARN(mod, ...) gmb_log(GMB_LOG_WARN, mod, __VA_ARGS__)
#define GMB_ERROR(mod, ...) gmb_log(GMB_LOG_ERROR, mod, __VA_ARGS__)

#endif
