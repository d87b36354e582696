/*
 * The JSON form of an alert and of an incident, shared by the control
 * socket and the EVE output so both speak the same field names (EVE's:
 * dest_ip, dest_port, proto as a name, ISO 8601 timestamps).
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "store/store.h"

/* EVE's protocol names; anything else is its decimal number. */
static void
proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case 1:
		snprintf(buf, size, "ICMP");
		break;
	case 6:
		snprintf(buf, size, "TCP");
		break;
	case 17:
		snprintf(buf, size, "UDP");
		break;
	case 58:
		snprintf(buf, size, "IPv6-ICMP");
		break;
	case 132:
		snprintf(buf, size, "SCTP");
		break;
	default:
		snprintf(buf, size, "%u", proto);
		break;
	}
}

/* Format us as 2024-01-31T12:00:00.123456+0000, as EVE does. */
static void
iso_time(uint64_t us, char *buf, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char date[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(date, sizeof(date), "1970-01-01T00:00:00");
	snprintf(buf, size, "%s.%06u+0000", date, (unsigned)(us % 1000000));
}

/* Add an ISO time under name; returns NULL on allocation failure. */
static cJSON *
add_time(cJSON *o, const char *name, uint64_t us)
{
	char buf[64];

	iso_time(us, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, name, buf);
}

/* Add JSON text under name (parsed; "" is []), or null when not JSON. */
static int
add_parsed(cJSON *o, const char *name, const char *text)
{
	cJSON *e;

	e = cJSON_Parse(text[0] != '\0' ? text : "[]");
	if (e == NULL)
		e = cJSON_CreateNull();
	if (e == NULL)
		return -ENOMEM;
	if (!cJSON_AddItemToObject(o, name, e)) {
		cJSON_Delete(e);
		return -ENOMEM;
	}
	return 0;
}

/* Add an id under name, or null when it is 0 (none). */
static cJSON *
add_id(cJSON *o, const char *name, int64_t id)
{
	if (id == 0)
		return cJSON_AddNullToObject(o, name);
	return cJSON_AddNumberToObject(o, name, (double)id);
}

/* The name of a finding kind. */
const char *
store_finding_name(unsigned int f)
{
	switch (f) {
	case STORE_FINDING_FLOW:
		return "flow";
	case STORE_FINDING_RESPONDER:
		return "responder";
	default:
		return "unknown";
	}
}

/* The name of what an incident is about. */
const char *
store_about_name(unsigned int a)
{
	switch (a) {
	case STORE_ABOUT_INITIATOR:
		return "initiator";
	case STORE_ABOUT_RESPONDER:
		return "responder";
	default:
		return "unknown";
	}
}

/* Build the shared JSON object for one alert. */
int
store_alert_to_json(const struct store_alert *a, struct cJSON **out)
{
	/* A struct fresh from the daemon (not read back) has no totals yet. */
	uint64_t count = a->count != 0 ? a->count : 1;
	uint64_t last = a->last_us != 0 ? a->last_us : a->ts_us;
	cJSON *o;
	char proto[16];
	int ok;

	*out = NULL;
	if ((o = cJSON_CreateObject()) == NULL)
		return -ENOMEM;
	proto_name(a->proto, proto, sizeof(proto));
	/* cJSON numbers are doubles: exact up to 2^53, ample for these. */
	ok = cJSON_AddNumberToObject(o, "id", (double)a->id) != NULL &&
	    add_time(o, "timestamp", a->ts_us) != NULL &&
	    cJSON_AddNumberToObject(o, "ts_us", (double)a->ts_us) != NULL &&
	    add_time(o, "flow_start", a->ts_first_us) != NULL &&
	    add_time(o, "flow_end", a->ts_last_us) != NULL &&
	    add_time(o, "last_timestamp", last) != NULL &&
	    cJSON_AddStringToObject(o, "proto", proto) != NULL &&
	    cJSON_AddStringToObject(o, "src_ip", a->src_ip) != NULL &&
	    cJSON_AddNumberToObject(o, "src_port", a->src_port) != NULL &&
	    cJSON_AddStringToObject(o, "dest_ip", a->dst_ip) != NULL &&
	    cJSON_AddNumberToObject(o, "dest_port", a->dst_port) != NULL &&
	    cJSON_AddNumberToObject(o, "packets", (double)a->packets) != NULL &&
	    cJSON_AddNumberToObject(o, "bytes", (double)a->bytes) != NULL &&
	    cJSON_AddNumberToObject(o, "score", a->score) != NULL &&
	    cJSON_AddNumberToObject(o, "threshold", a->threshold) != NULL &&
	    cJSON_AddStringToObject(o, "model_id", a->model_id) != NULL &&
	    cJSON_AddNumberToObject(o, "count", (double)count) != NULL &&
	    add_parsed(o, "explanation", a->explanation) == 0 &&
	    cJSON_AddStringToObject(
		o, "finding", store_finding_name(a->finding)) != NULL &&
	    add_id(o, "incident_id", a->incident_id) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

/* Build the shared JSON object for one incident. */
int
store_incident_to_json(const struct store_incident *inc, struct cJSON **out)
{
	cJSON *o;
	int ok;

	*out = NULL;
	if ((o = cJSON_CreateObject()) == NULL)
		return -ENOMEM;
	ok = cJSON_AddNumberToObject(o, "id", (double)inc->id) != NULL &&
	    add_time(o, "first_timestamp", inc->first_us) != NULL &&
	    add_time(o, "last_timestamp", inc->last_us) != NULL &&
	    cJSON_AddNumberToObject(o, "first_us", (double)inc->first_us) !=
		NULL &&
	    cJSON_AddNumberToObject(o, "last_us", (double)inc->last_us) !=
		NULL &&
	    cJSON_AddStringToObject(o, "about", store_about_name(inc->about)) !=
		NULL &&
	    cJSON_AddStringToObject(o, "host", inc->host) != NULL &&
	    cJSON_AddNumberToObject(o, "alerts", (double)inc->alerts) != NULL &&
	    cJSON_AddNumberToObject(o, "flows", (double)inc->flows) != NULL &&
	    cJSON_AddNumberToObject(o, "peers_n", (double)inc->peers_n) !=
		NULL &&
	    cJSON_AddNumberToObject(o, "ports_n", (double)inc->ports_n) !=
		NULL &&
	    add_parsed(o, "peers", inc->peers) == 0 &&
	    add_parsed(o, "ports", inc->ports) == 0 &&
	    cJSON_AddNumberToObject(o, "score_max", inc->score_max) != NULL &&
	    cJSON_AddStringToObject(o, "summary", inc->summary) != NULL &&
	    add_parsed(o, "evidence", inc->evidence) == 0 &&
	    cJSON_AddStringToObject(o, "model_id", inc->model_id) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}
