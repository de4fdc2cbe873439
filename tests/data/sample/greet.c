#include "greet.h"
const char *greeting(void)
{
    return "hello from a program compiled on Buildbarn";
}
