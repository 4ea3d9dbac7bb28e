/* Placeholder: being written. */
#include "server/mapi_srv.h"
