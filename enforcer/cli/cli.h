/* cli.h — the netpol subcommands. Each returns the process exit status; main() only
 * dispatches. */
#ifndef NETPOL_CLI_H
#define NETPOL_CLI_H

int cmd_check(int argc, char **argv);   /* netpol check DIR [--strict] [--json] */
int cmd_render(int argc, char **argv);  /* netpol render DIR [--node NAME] */
int cmd_reach(int argc, char **argv);   /* netpol reach DIR [--port P --protocol X] [--json] */
int cmd_explain(int argc, char **argv); /* netpol explain DIR --from X --to Y --port P/PROTO */
int cmd_apply(int argc, char **argv);   /* netpol apply DIR [--node NAME] */
int cmd_status(int argc, char **argv);  /* netpol status DIR [--node NAME] */
int cmd_flush(int argc, char **argv);   /* netpol flush */
int cmd_net(int argc, char **argv);     /* netpol net create|ls|inspect|rm|attach|detach ... */
int cmd_flows(int argc, char **argv);   /* netpol flows [--follow] [FILTERS]: flow records */
int cmd_preview(int argc, char **argv); /* netpol preview DIR [--against CURRENT] */
int cmd_reload(int argc, char **argv);  /* netpol reload [--state-dir DIR]: policyd re-reads all */
int cmd_store(int argc, char **argv);   /* netpol store put|rm|ls: objects in an etcd store */

#endif
