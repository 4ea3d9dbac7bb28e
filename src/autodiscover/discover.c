/* Placeholder: being written. */
#include "autodiscover/autodiscover.h"
