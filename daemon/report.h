/*
 * report.h - `maillog_exporter report [--json] FILE...`: read whole logs
 * (plain or gzip, any MTA, mixed) and print for a person what pflogsumm
 * prints for Postfix, centred on codes: totals by outcome and class, the
 * reply and enhanced codes with their counts, shares and meanings, counts
 * per hour by class, the domains that defer and bounce most with their
 * main codes, and the sessions, TLS and postscreen figures. --json prints
 * the same data for programs.
 *
 * The lines go through the daemon's own path: once_read (the same line
 * splitter and limits) and ingest_line (the same parsing and counting,
 * ingest.h); the totals, code tables, sessions and domain ranks are read
 * back through summary.c, as the status page reads them, and rendered by
 * web/report_view.c.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>

/* Largest number of files one report reads. */
#define REPORT_MAX_FILES 256

/*
 * Run the report: argv[0] is "report", the rest its flags and files
 * ("-" is standard input). Writes the report to out and problems to
 * stderr. Returns the process exit status: 0, 1 when a file cannot be
 * read (the message names it; nothing is printed to out), 2 for a bad
 * flag or no file (one line saying so).
 */
int report_main(int argc, char **argv, FILE *out);

#endif
