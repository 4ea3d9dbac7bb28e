/*
 * What every transport shares: freeing one through its ops.
 */
#include "mapihttp/sys/transport.h"

void mh_transport_free(mh_transport *t)
{
	if (t != NULL && t->ops != NULL && t->ops->destroy != NULL)
		t->ops->destroy(t->self);
}
