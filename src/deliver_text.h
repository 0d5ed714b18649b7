/* deliver_text.h: what the desk backends for people (e-mail, desk chat
 * rooms, Open311 descriptions) need from a stored report: a parsed view
 * of its JSON and the readable text built from it. */
#ifndef BART_DELIVER_TEXT_H
#define BART_DELIVER_TEXT_H

#include <stddef.h>

#include <jansson.h>

/* A view of a report's JSON. The strings point into root (never NULL:
 * "" when the report lacks them); desk_report_clear releases it. */
struct desk_report {
	json_t		*root;
	const char	*id;
	const char	*category;
	const char	*urgency;
	const char	*text;
	const char	*observed_at;	/* ISO 8601 UTC */
	const char	*network;
	const char	*room;
	const char	*sender;	/* pseudonym */
	const char	*nb_name;	/* neighbourhood name (or id) */
	const char	*nb_code;	/* CBS code */
	const char	*address;	/* "address" if a later schema has it */
	int		 has_location;
	double		 lat, lon;
	char		 ref[9];	/* short reference (8 characters) */
};

/* Parses report_json (at most DESK_JSON_MAX bytes). 0, or -1 if it is
 * not a report object with an id. */
#define DESK_JSON_MAX	(1024 * 1024)
int	desk_report_parse(const char *report_json, struct desk_report *r);
void	desk_report_clear(struct desk_report *r);

/* The words that made the rules fire, quoted and comma-separated, at
 * most max bytes (whole words only). Caller frees. "" if none. */
char	*desk_report_words(const struct desk_report *r, size_t max);
/* Follow-up messages merged into the report (corroborations), one
 * "- [time] text" line each, texts cut at textmax bytes. Caller frees;
 * "" if none. */
char	*desk_report_followups(const struct desk_report *r, size_t textmax);
/* When, as "YYYY-MM-DD HH:MM UTC" into out. */
void	 desk_report_when(const struct desk_report *r, char *out,
	    size_t outsz);
/* The plain-text body of an e-mail for people. version 0 is the report,
 * 1.. updates. Caller frees. */
char	*desk_report_mail_body(const struct desk_report *r, int version);

/* Copy of s cut to at most max bytes on a UTF-8 character boundary,
 * with "..." appended when cut. Caller frees. */
char	*desk_text_cut(const char *s, size_t max);

#endif
