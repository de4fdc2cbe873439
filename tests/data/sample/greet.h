#ifndef GREET_H
#define GREET_H
const char *greeting(void);
long sum_to(long n);
#endif
