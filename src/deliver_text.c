/* deliver_text.c: a parsed view of a stored report and the readable text
 * the desk backends for people build from it (Dutch, like everything
 * bart says to people). The report JSON was written by bart itself, but
 * its texts came from residents: every field is type-checked, and texts
 * are cut at sizes a desk can read. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deliver_text.h"
#include "util.h"

#define TEXT_MAX	(16 * 1024)	/* the message in an e-mail */
#define FOLLOWUP_MAX	20		/* follow-ups listed */

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

int
desk_report_parse(const char *report_json, struct desk_report *r)
{
	json_error_t e;
	json_t *nb, *loc;

	memset(r, 0, sizeof(*r));
	if (report_json == NULL || strlen(report_json) > DESK_JSON_MAX)
		return -1;
	r->root = json_loads(report_json, JSON_REJECT_DUPLICATES, &e);
	if (r->root == NULL || !json_is_object(r->root))
		goto fail;
	r->id = jstr(r->root, "id");
	if (*r->id == '\0')
		goto fail;
	r->category = jstr(r->root, "category");
	r->urgency = jstr(r->root, "urgency");
	r->text = jstr(r->root, "text");
	r->observed_at = jstr(r->root, "observed_at");
	r->network = jstr(r->root, "network");
	r->room = jstr(r->root, "room");
	r->sender = jstr(r->root, "sender");
	r->address = jstr(r->root, "address");
	r->nb_name = r->nb_code = "";
	if (json_is_object(nb = json_object_get(r->root, "neighbourhood"))) {
		r->nb_name = jstr(nb, "name");
		if (*r->nb_name == '\0')
			r->nb_name = jstr(nb, "id");
		r->nb_code = jstr(nb, "cbs_code");
		loc = json_object_get(nb, "location");
		if (json_is_object(loc) &&
		    json_is_number(json_object_get(loc, "lat")) &&
		    json_is_number(json_object_get(loc, "lon"))) {
			r->lat = json_number_value(json_object_get(loc, "lat"));
			r->lon = json_number_value(json_object_get(loc, "lon"));
			r->has_location = r->lat >= -90 && r->lat <= 90 &&
			    r->lon >= -180 && r->lon <= 180;
		}
	}
	snprintf(r->ref, sizeof(r->ref), "%.8s", r->id);
	return 0;
fail:
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
	return -1;
}

void
desk_report_clear(struct desk_report *r)
{
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
}

/* Caller frees. */
char *
desk_text_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	/* Back up to the start of a UTF-8 character. */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return xasprintf("%.*s...", (int)max, s);
}

/* Caller frees. */
char *
desk_report_words(const struct desk_report *r, size_t max)
{
	json_t *rules = json_object_get(r->root, "rules"), *rule, *spans, *sp;
	struct buf b = { 0 };
	size_t i, j;

	buf_puts(&b, "");
	if (!json_is_array(rules))
		return buf_steal(&b);
	json_array_foreach(rules, i, rule) {
		if (!json_is_array(spans = json_object_get(rule, "spans")))
			continue;
		json_array_foreach(spans, j, sp) {
			const char *w = jstr(sp, "text");
			char *q;
			size_t wl = strlen(w);

			if (wl == 0 || wl > 80)
				continue;
			q = xasprintf("\"%s\"", w);
			if (strstr(b.data, q) == NULL) {
				if (b.len + wl + 4 > max) {
					free(q);
					return buf_steal(&b);
				}
				buf_printf(&b, "%s%s", b.len ? ", " : "", q);
			}
			free(q);
		}
	}
	return buf_steal(&b);
}

void
desk_report_when(const struct desk_report *r, char *out, size_t outsz)
{
	const char *t = r->observed_at;

	/* 2026-11-23T16:40:12.345Z -> 2026-11-23 16:40 UTC */
	if (strlen(t) >= 16 && t[10] == 'T')
		snprintf(out, outsz, "%.10s %.5s UTC", t, t + 11);
	else
		snprintf(out, outsz, "%s", *t ? t : "onbekend");
}

/* Caller frees. */
char *
desk_report_followups(const struct desk_report *r, size_t textmax)
{
	json_t *cs = json_object_get(r->root, "corroborations"), *c;
	struct buf b = { 0 };
	size_t i;

	buf_puts(&b, "");
	if (!json_is_array(cs))
		return buf_steal(&b);
	json_array_foreach(cs, i, c) {
		const char *text, *at;
		char *cut;

		if (i >= FOLLOWUP_MAX) {
			buf_printf(&b, "- (en nog %zu)\n",
			    json_array_size(cs) - i);
			break;
		}
		if (json_is_string(c)) {
			text = json_string_value(c);
			at = "";
		} else if (json_is_object(c)) {
			text = jstr(c, "text");
			at = jstr(c, "observed_at");
		} else
			continue;
		if (*text == '\0')
			continue;
		cut = desk_text_cut(text, textmax);
		if (strlen(at) >= 16 && at[10] == 'T')
			buf_printf(&b, "- [%.5s] %s\n", at + 11, cut);
		else
			buf_printf(&b, "- %s\n", cut);
		free(cut);
	}
	return buf_steal(&b);
}

/* Indents every line of s by two spaces into b. */
static void
indent(struct buf *b, const char *s)
{
	const char *nl;

	while (*s) {
		nl = strchr(s, '\n');
		buf_puts(b, "  ");
		if (nl == NULL) {
			buf_puts(b, s);
			break;
		}
		buf_append(b, s, (size_t)(nl - s));
		s = nl + 1;
	}
	buf_puts(b, "\n");
}

static const char *
urgency_text(const char *u)
{
	if (strcmp(u, "spoed") == 0)
		return "spoed: nu gaande of nu gevaar";
	if (strcmp(u, "normaal") == 0)
		return "normaal: geen spoed";
	if (strcmp(u, "info") == 0)
		return "info";
	return u;
}

/* Caller frees. */
char *
desk_report_mail_body(const struct desk_report *r, int version)
{
	struct buf b = { 0 };
	char when[40];
	char *text, *words, *follow;

	desk_report_when(r, when, sizeof(when));
	text = desk_text_cut(r->text, TEXT_MAX);
	words = desk_report_words(r, 400);
	follow = desk_report_followups(r, 2000);
	if (version > 0)
		buf_printf(&b, "Update %d van melding %s: er zijn berichten "
		    "bijgekomen.\n\n", version, r->ref);
	buf_printf(&b, "Melding uit een buurtpreventie-chat, doorgestuurd "
	    "door bart.\n\n");
	buf_printf(&b, "Wat:       %s\n", *r->category ? r->category : "?");
	buf_printf(&b, "Urgentie:  %s\n", urgency_text(r->urgency));
	buf_printf(&b, "Waar:      %s", *r->nb_name ? r->nb_name :
	    "onbekende buurt");
	if (*r->nb_code)
		buf_printf(&b, " (CBS %s)", r->nb_code);
	buf_puts(&b, "\n");
	if (*r->address)
		buf_printf(&b, "Adres:     %s\n", r->address);
	if (r->has_location)
		buf_printf(&b, "Locatie:   %.5f, %.5f (de buurt, niet de "
		    "precieze plek)\n", r->lat, r->lon);
	buf_printf(&b, "Wanneer:   %s\n", when);
	buf_printf(&b, "Chat:      %s, %s\n", r->network, r->room);
	buf_printf(&b, "\nBericht:\n");
	indent(&b, *text ? text : "(leeg)");
	if (*words)
		buf_printf(&b, "\nHerkend aan: %s\n", words);
	if (*follow) {
		buf_printf(&b, "\nLatere berichten over hetzelfde:\n");
		buf_puts(&b, follow);
	}
	buf_printf(&b, "\nRef:       %s (melding %s)\n", r->ref, r->id);
	if (*r->sender)
		buf_printf(&b, "Afzender:  pseudoniem %.12s\n", r->sender);
	buf_printf(&b, "\nHet volledige rapport staat als JSON in de bijlage "
	    "report-%s.json.\n", r->id);
	free(text);
	free(words);
	free(follow);
	return buf_steal(&b);
}
