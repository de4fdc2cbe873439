#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int g_level = GMB_LOG_INFO;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int gmb_log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return GMB_LOG_WARN;
    return -1;
}

void gmb_log_set_level(int level)
{
    /* The environment wins: it is how one run of a daemon or tool gets
     * debug output without editing its configuration. */
    const char *env = getenv("GOMABARN_LOG_LEVEL");
    int from_env = env ? gmb_log_parse_level(env) : -1;
    if (from_env >= 0)
        level = from_env;
    if (level < 0)
        level = GMB_LOG_INFO;
    __atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
}

gmb_log_level gmb_log_get_level(void)
{
    return (gmb_log_level)__atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

void gmb_vlog(gmb_log_level level, const char *module, const char *fmt, va_list ap)
{
    if ((int)level < __atomic_load_n(&g_level, __ATOMIC_RELAXED))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* One fprintf under a lock so lines from different threads never mix. */
    pthread_mutex_lock(&g_log_lock);
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, now.tv_nsec / 1000000, level_names[level], module, msg);
    pthread_mutex_unlock(&g_log_lock);
}

void gmb_log(gmb_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gmb_vlog(level, module, fmt, ap);
    va_end(ap);
}
