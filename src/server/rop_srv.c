/* Placeholder: being written. */
#include "server/rop_srv.h"
