/* Placeholder: being written. */
#include "mapihttp/status.h"
