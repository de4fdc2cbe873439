#include <stdio.h>
#include "greet.h"
int main(void)
{
    printf("%s; 1+...+100 = %ld\n", greeting(), sum_to(100));
    return 0;
}
