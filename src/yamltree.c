/* yamltree.c: libyaml event stream to a tree of ynodes with positions. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "util.h"
#include "yamltree.h"

#define YAML_MAX_DEPTH	64

static struct ynode *
ynode_new(enum ynode_type t, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

void
ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++) {
		ynode_free(n->items[i]);
		if (n->keys)
			ynode_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->str);
	free(n);
}

static void
push_child(struct ynode *parent, struct ynode *key, struct ynode *val)
{
	parent->items = xrealloc(parent->items,
	    (parent->n + 1) * sizeof(*parent->items));
	if (parent->type == YN_MAP) {
		parent->keys = xrealloc(parent->keys,
		    (parent->n + 1) * sizeof(*parent->keys));
		parent->keys[parent->n] = key;
	}
	parent->items[parent->n++] = val;
}

/* Parses one node whose first event is ev; returns it or NULL on error. */
static struct ynode *
parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *name,
    struct diag *d, int depth)
{
	struct ynode *n = NULL, *key = NULL, *val;
	yaml_event_t e;

	if (depth > YAML_MAX_DEPTH) {
		diag_error(d, name, (int)ev->start_mark.line + 1,
		    (int)ev->start_mark.column + 1, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		diag_error(d, name, (int)ev->start_mark.line + 1,
		    (int)ev->start_mark.column + 1,
		    "aliases are not supported");
		return NULL;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor) {
			diag_error(d, name, (int)ev->start_mark.line + 1,
			    (int)ev->start_mark.column + 1,
			    "anchors are not supported");
			return NULL;
		}
		n = ynode_new(YN_SCALAR, &ev->start_mark);
		n->str = xstrndup((const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (strlen(n->str) != n->len) {
			diag_error(d, name, n->line, n->col,
			    "NUL character in value");
			ynode_free(n);
			return NULL;
		}
		return n;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		diag_error(d, name, (int)ev->start_mark.line + 1,
		    (int)ev->start_mark.column + 1, "unexpected YAML event");
		return NULL;
	}
	n = ynode_new(ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP,
	    &ev->start_mark);
	for (;;) {
		if (!yaml_parser_parse(p, &e)) {
			diag_error(d, name, (int)p->problem_mark.line + 1,
			    (int)p->problem_mark.column + 1, "%s",
			    p->problem ? p->problem : "YAML syntax error");
			goto fail;
		}
		if (e.type == YAML_SEQUENCE_END_EVENT ||
		    e.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		val = parse_node(p, &e, name, d, depth + 1);
		yaml_event_delete(&e);
		if (val == NULL)
			goto fail;
		if (n->type == YN_SEQ) {
			push_child(n, NULL, val);
			continue;
		}
		if (key == NULL) {
			if (val->type != YN_SCALAR) {
				diag_error(d, name, val->line, val->col,
				    "mapping keys must be plain words");
				ynode_free(val);
				goto fail;
			}
			for (size_t i = 0; i < n->n; i++)
				if (strcmp(n->keys[i]->str, val->str) == 0) {
					diag_error(d, name, val->line,
					    val->col, "duplicate key '%s'",
					    val->str);
					ynode_free(val);
					goto fail;
				}
			key = val;
			continue;
		}
		push_child(n, key, val);
		key = NULL;
	}
	return n;
fail:
	ynode_free(key);
	ynode_free(n);
	return NULL;
}

struct ynode *
yaml_load_buffer(const char *name, const char *buf, size_t len,
    struct diag *d)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct ynode *root = NULL;
	int done = 0;

	if (!utf8_valid(buf, len)) {
		diag_error(d, name, 0, 0, "file is not valid UTF-8");
		return NULL;
	}
	if (!yaml_parser_initialize(&p))
		return NULL;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &e)) {
			diag_error(d, name, (int)p.problem_mark.line + 1,
			    (int)p.problem_mark.column + 1, "%s",
			    p.problem ? p.problem : "YAML syntax error");
			ynode_free(root);
			root = NULL;
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			if (root != NULL) {
				diag_error(d, name,
				    (int)e.start_mark.line + 1, 0,
				    "only one YAML document per file");
				ynode_free(root);
				root = NULL;
				done = 1;
				break;
			}
			root = parse_node(&p, &e, name, d, 0);
			if (root == NULL)
				done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return root;
}

struct ynode *
yaml_load_file(const char *path, size_t maxlen, struct diag *d)
{
	size_t len;
	char *buf = read_file(path, maxlen, &len);
	struct ynode *n;

	if (buf == NULL) {
		diag_error(d, path, 0, 0, "%s", strerror(errno));
		return NULL;
	}
	n = yaml_load_buffer(path, buf, len, d);
	free(buf);
	return n;
}

const struct ynode *
ymap_get(const struct ynode *map, const char *key)
{
	if (map == NULL || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->str, key) == 0)
			return map->items[i];
	return NULL;
}

const char *
ynode_typename(const struct ynode *n)
{
	switch (n->type) {
	case YN_SCALAR:
		return "a value";
	case YN_SEQ:
		return "a list";
	default:
		return "a mapping";
	}
}

int
ynode_int(const struct ynode *n, const char *file, long min, long max,
    long *out, struct diag *d)
{
	char *end;
	long v;

	if (n->type != YN_SCALAR) {
		diag_error(d, file, n->line, n->col,
		    "expected a number, found %s", ynode_typename(n));
		return -1;
	}
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (errno || end == n->str || *end != '\0' || v < min || v > max) {
		diag_error(d, file, n->line, n->col,
		    "'%s' is not a whole number from %ld to %ld", n->str, min,
		    max);
		return -1;
	}
	*out = v;
	return 0;
}

int
ynode_bool(const struct ynode *n, const char *file, int *out, struct diag *d)
{
	static const char *yes[] = { "true", "yes", "on" };
	static const char *no[] = { "false", "no", "off" };

	if (n->type == YN_SCALAR) {
		for (size_t i = 0; i < nitems(yes); i++) {
			if (strcasecmp(n->str, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcasecmp(n->str, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	diag_error(d, file, n->line, n->col, "expected true or false");
	return -1;
}
