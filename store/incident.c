/* Incidents: grouped alerts.  (Interface stub; not implemented yet.) */
#include <errno.h>

#include "store/store-int.h"

/* Queue an incident. */
int
store_incident_put(
    struct store *st, const struct store_incident *inc, int64_t *idp)
{
	(void)st;
	(void)inc;
	if (idp != NULL)
		*idp = 0;
	return -ENOSYS;
}

/* Incidents, newest first. */
int
store_incidents_query(struct store *st, const struct store_query *q,
    store_incident_cb cb, void *arg, char **cause)
{
	(void)st, (void)q, (void)cb, (void)arg, (void)cause;
	return -ENOSYS;
}

/* One incident. */
int
store_incident_get(
    struct store *st, int64_t id, struct store_incident *out, char **cause)
{
	(void)st, (void)id, (void)out, (void)cause;
	return -ENOSYS;
}
