#ifndef HOSTEXEC_H
#define HOSTEXEC_H
#include <stdint.h>
int hostexec_available(void);
#endif
