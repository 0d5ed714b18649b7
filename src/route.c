/* route.c: ordered routes with matchers; first match wins unless
 * `continue: true`. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "route.h"

static int
in_list(char *const *list, size_t n, const char *s)
{
	if (n == 0)
		return 1;
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int
any_rule(const struct cfg_route *r, const struct route_input *in)
{
	if (r->nrules == 0)
		return 1;
	for (size_t i = 0; i < in->nrules; i++)
		if (in_list(r->rules, r->nrules, in->rules[i]))
			return 1;
	return 0;
}

/* The time window, in local time (the configured timezone is set as TZ
 * at start). A window that wraps midnight belongs to the day it began. */
static int
in_window(const struct cfg_route *r, int64_t now)
{
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	int min, day;

	if (r->days == 0 && r->from_min == r->to_min)
		return 1;
	localtime_r(&t, &tm);
	min = tm.tm_hour * 60 + tm.tm_min;
	day = tm.tm_wday;
	if (r->from_min != r->to_min) {
		if (r->from_min < r->to_min) {
			if (min < r->from_min || min >= r->to_min)
				return 0;
		} else if (min < r->to_min) {
			day = (day + 6) % 7;	/* began yesterday */
		} else if (min < r->from_min)
			return 0;
	}
	return r->days == 0 || (r->days & (1u << day));
}

const char *
route_mismatch(const struct cfg_route *r, const struct route_input *in)
{
	if (!in_list(r->categories, r->ncategories, in->category))
		return "category differs";
	if (r->urgencies && !(r->urgencies & (1u << in->urgency)))
		return "urgency differs";
	if (!in_list(r->neighbourhoods, r->nneighbourhoods,
	    in->neighbourhood))
		return "neighbourhood differs";
	if (!in_list(r->rooms, r->nrooms, in->room))
		return "room differs";
	if (r->networks && !(r->networks & (1u << in->network)))
		return "network differs";
	if (!any_rule(r, in))
		return "none of its rules fired";
	if (!in_window(r, in->now))
		return "outside its days/hours";
	return NULL;
}

static int
route_matches(const struct cfg_route *r, const struct route_input *in)
{
	return route_mismatch(r, in) == NULL;
}

size_t
route_report(const struct config *cfg, const struct route_input *in,
    const char **desks, size_t max, int *matched)
{
	size_t n = 0;

	*matched = -1;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];

		if (!route_matches(r, in))
			continue;
		if (*matched < 0)
			*matched = (int)i;
		for (size_t j = 0; j < r->ndesks; j++) {
			int dup = 0;
			for (size_t k = 0; k < n; k++)
				if (strcmp(desks[k], r->desks[j]) == 0)
					dup = 1;
			if (!dup && n < max)
				desks[n++] = r->desks[j];
		}
		if (!r->cont)
			break;
	}
	return n;
}
