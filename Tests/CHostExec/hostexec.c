#include "hostexec.h"
int hostexec_available(void) { return 1; }
