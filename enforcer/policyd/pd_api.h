/* pd_api.h — policyd's page (/ui/, its files embedded in the binary) and its read-only JSON
 * (/api/v1/flows, reach, policies, explain), served on the metrics address. Internal to policyd
 * (pd_http.c calls it); what each answers: README.md here, "The page". */
#ifndef NETPOL_ENFORCER_PD_API_H
#define NETPOL_ENFORCER_PD_API_H

#include "httpd.h"

struct pd;

/* Answers a GET under /ui/ or /api/v1/ (httpd_fn's contract); 0 when the path is not one of
 * them (the caller answers 404). */
int pd_api_serve(struct pd *d, const struct httpd_req *rq, char **body, const char **ctype);

#endif
