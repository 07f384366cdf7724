/*
 * negotiate.h - HTTP content negotiation for the exposition: which format
 * the Accept header asks for, and whether Accept-Encoding allows gzip.
 */
#ifndef WEB_NEGOTIATE_H
#define WEB_NEGOTIATE_H

#include "web/expo.h"

/* The format an Accept header asks for (NULL: no header): OpenMetrics
 * when application/openmetrics-text has the best q value, text 0.0.4
 * otherwise. */
enum expo_format web_negotiate_format(const char *accept);

/* 1 if an Accept-Encoding header (NULL: none) allows gzip, else 0. */
int web_accepts_gzip(const char *accept_encoding);

#endif
