/* Placeholder: being written. */
#include "mapihttp/sys/transport.h"
