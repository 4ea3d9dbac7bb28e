/* Placeholder: being written. */
#include "server/fault.h"
