/* route.c: ordered routes with matchers; first match wins unless
 * `continue: true`. */
#include "config.h"

#include <string.h>

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
route_matches(const struct cfg_route *r, const struct route_input *in)
{
	if (!in_list(r->categories, r->ncategories, in->category))
		return 0;
	if (r->urgencies && !(r->urgencies & (1u << in->urgency)))
		return 0;
	if (!in_list(r->neighbourhoods, r->nneighbourhoods,
	    in->neighbourhood))
		return 0;
	if (!in_list(r->rooms, r->nrooms, in->room))
		return 0;
	return 1;
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
